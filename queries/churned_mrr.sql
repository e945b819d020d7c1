-- id: churned_mrr
-- version: 1
-- description: MRR at the window's start of clients no longer paying at its end
-- window: 30d
-- unit: money
-- name: Churned MRR
-- section: Revenue
-- format: money
-- drivers: sum
-- owner: data-team
-- uses: client_mrr
SELECT
    COALESCE(SUM(mrr_a) FILTER (WHERE mrr_a > 0 AND mrr_b = 0), 0) AS value,
    COUNT(*) FILTER (WHERE mrr_a > 0 AND mrr_b = 0) AS sample_size
FROM client_movements
