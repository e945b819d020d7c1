-- id: new_mrr
-- version: 1
-- description: MRR at the window's end of clients that start paying in it for the first time
-- window: 30d
-- unit: money
-- name: New MRR
-- section: Revenue
-- format: money
-- drivers: sum
-- owner: data-team
-- uses: client_mrr
SELECT
    COALESCE(SUM(mrr_b) FILTER (WHERE mrr_a = 0 AND mrr_b > 0 AND NOT paid_before), 0) AS value,
    COUNT(*) FILTER (WHERE mrr_a = 0 AND mrr_b > 0 AND NOT paid_before) AS sample_size
FROM client_movements
