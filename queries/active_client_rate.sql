-- id: active_client_rate
-- version: 1
-- description: Of clients paying at the window's end, the share with a usage event in the window
-- window: 28d
-- unit: fraction
-- name: Active clients
-- section: Engagement
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
-- uses: client_mrr
WITH active AS (
    SELECT DISTINCT client_id
    FROM usage_events
    WHERE occurred_at >= $window_start AND occurred_at < $window_end
)
SELECT
    CAST(COUNT(a.client_id) AS DOUBLE) / NULLIF(COUNT(*), 0) AS value,
    COUNT(*) AS sample_size
FROM mrr_at_end AS p
LEFT JOIN active AS a ON a.client_id = p.client_id
WHERE p.mrr > 0
