-- id: first_response_time
-- version: 1
-- description: Median time to first response of tickets opened in the window and answered before its end
-- window: 7d
-- unit: seconds
-- name: First response time (median)
-- section: Support and delivery
-- format: duration
-- owner: data-team
--
-- Durations are business_seconds(): calendar time unless the config has a
-- business calendar. Also p90 and mean; exact percentiles interpolated between ranks
-- (percentile_exact, as PostgreSQL's percentile_cont).
WITH answered AS (
    SELECT business_seconds(opened_at, first_response_at) AS seconds
    FROM tickets
    WHERE opened_at >= $window_start
      AND opened_at < $window_end
      AND first_response_at < $window_end
)
SELECT
    percentile_exact(seconds, 0.5) AS value,
    percentile_exact(seconds, 0.9) AS p90,
    AVG(seconds) AS mean,
    COUNT(*) AS sample_size
FROM answered
