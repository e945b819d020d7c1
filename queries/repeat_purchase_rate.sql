-- id: repeat_purchase_rate
-- version: 1
-- description: Of clients with an order in the 30 days before the window, the share ordering in it
-- window: 30d
-- unit: fraction
-- name: Repeat purchase rate
-- section: Clients
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
WITH before AS (
    SELECT DISTINCT client_id FROM orders
    WHERE ordered_at >= $previous_window_start AND ordered_at < $window_start
),
now AS (
    SELECT DISTINCT client_id FROM orders
    WHERE ordered_at >= $window_start AND ordered_at < $window_end
)
SELECT
    CAST(COUNT(n.client_id) AS DOUBLE) / NULLIF(COUNT(*), 0) AS value,
    COUNT(*) AS sample_size
FROM before AS b
LEFT JOIN now AS n ON n.client_id = b.client_id
