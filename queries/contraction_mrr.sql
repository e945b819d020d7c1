-- id: contraction_mrr
-- version: 1
-- description: MRR lost by clients paying less (but still paying) at the window's end
-- window: 30d
-- unit: money
-- name: Contraction MRR
-- section: Revenue
-- format: money
-- drivers: sum
-- owner: data-team
-- uses: client_mrr
SELECT
    COALESCE(SUM(mrr_a - mrr_b) FILTER (WHERE mrr_b > 0 AND mrr_b < mrr_a), 0) AS value,
    COUNT(*) FILTER (WHERE mrr_b > 0 AND mrr_b < mrr_a) AS sample_size
FROM client_movements
