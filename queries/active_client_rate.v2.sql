-- id: active_client_rate
-- version: 2
-- description: Of clients paying at the window's end, the share with a usage event in the window
-- window: 28d
-- unit: fraction
-- name: Active clients
-- section: Engagement
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
-- uses: client_mrr, client_uses
--
-- Version 2 gives the same figure as version 1 from the run's shared table
-- of each client's events per day (client_uses), computed once for every
-- week of the trend, instead of the window's raw events.
WITH active AS (
    SELECT client_id
    FROM client_uses
    WHERE tally_in(uses, local_date($window_start), local_date($window_end)) > 0
)
SELECT
    CAST(COUNT(a.client_id) AS DOUBLE) / NULLIF(COUNT(*), 0) AS value,
    COUNT(*) AS sample_size
FROM mrr_at_end AS p
LEFT JOIN active AS a ON a.client_id = p.client_id
WHERE p.mrr > 0
