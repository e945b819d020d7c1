-- id: expansion_mrr
-- version: 1
-- description: MRR gained by clients paying more at the window's end than at its start
-- window: 30d
-- unit: money
-- name: Expansion MRR
-- section: Revenue
-- format: money
-- drivers: sum
-- owner: data-team
-- uses: client_mrr
SELECT
    COALESCE(SUM(mrr_b - mrr_a) FILTER (WHERE mrr_a > 0 AND mrr_b > mrr_a), 0) AS value,
    COUNT(*) FILTER (WHERE mrr_a > 0 AND mrr_b > mrr_a) AS sample_size
FROM client_movements
