-- id: net_new_mrr
-- version: 1
-- description: New + reactivation + expansion - contraction - churned MRR
-- window: 30d
-- unit: money
-- name: Net new MRR
-- section: Revenue
-- format: money
-- drivers: sum
-- owner: data-team
-- uses: client_mrr
--
-- Movements compare the two ends only, so this is exactly MRR(b) - MRR(a).
SELECT
    COALESCE(SUM(CASE
        WHEN mrr_a = 0 AND mrr_b > 0 THEN mrr_b
        WHEN mrr_a > 0 AND mrr_b > mrr_a THEN mrr_b - mrr_a
        WHEN mrr_b > 0 AND mrr_b < mrr_a THEN -(mrr_a - mrr_b)
        WHEN mrr_a > 0 AND mrr_b = 0 THEN -mrr_a
        ELSE 0
    END), 0) AS value,
    COUNT(*) FILTER (WHERE mrr_a <> mrr_b) AS sample_size
FROM client_movements
