-- id: churned_clients
-- version: 1
-- description: Clients paying at the window's start and not at its end
-- window: 30d
-- unit: count
-- name: Churned clients
-- section: Clients
-- format: count
-- drivers: sum
-- owner: data-team
-- uses: client_mrr
--
-- Sample size is S, the clients paying at the start.
SELECT
    COUNT(*) FILTER (WHERE mrr_b = 0) AS value,
    COUNT(*) AS sample_size
FROM client_movements
WHERE mrr_a > 0
