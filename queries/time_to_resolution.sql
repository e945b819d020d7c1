-- id: time_to_resolution
-- version: 1
-- description: Median time from opening to resolution of tickets resolved in the window
-- window: 7d
-- unit: seconds
-- name: Time to resolution (median)
-- section: Support and delivery
-- format: duration
-- owner: data-team
--
-- Durations are business_seconds(): calendar time unless the config has a
-- business calendar. Also p90 and mean; exact percentiles interpolated between ranks
-- (percentile_exact, as PostgreSQL's percentile_cont).
WITH resolved AS (
    SELECT business_seconds(opened_at, resolved_at) AS seconds
    FROM tickets
    WHERE resolved_at >= $window_start
      AND resolved_at < $window_end
)
SELECT
    percentile_exact(seconds, 0.5) AS value,
    percentile_exact(seconds, 0.9) AS p90,
    AVG(seconds) AS mean,
    COUNT(*) AS sample_size
FROM resolved
