-- id: time_to_resolution
-- version: 2
-- description: Median time from opening to resolution of tickets resolved in the window
-- window: 7d
-- unit: seconds
-- name: Time to resolution (median)
-- section: Support and delivery
-- format: duration
-- owner: data-team
-- windows: table
--
-- Version 2 gives the figures of version 1 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`).
-- A window without resolved tickets keeps its row (the LEFT JOIN); only
-- matched tickets are counted (r.window_end set).
--
-- Durations are business_seconds(): calendar time unless the config has a
-- business calendar. Also p90 and mean; exact percentiles interpolated between ranks
-- (percentile_exact, as PostgreSQL's percentile_cont).
WITH resolved AS (
    SELECT w.window_end, business_seconds(t.opened_at, t.resolved_at) AS seconds
    FROM windows AS w
    JOIN tickets AS t
      ON t.resolved_at >= w.window_start
     AND t.resolved_at < w.window_end
)
SELECT
    w.window_end,
    percentile_exact(r.seconds, 0.5) AS value,
    percentile_exact(r.seconds, 0.9) AS p90,
    AVG(r.seconds) AS mean,
    COUNT(r.window_end) AS sample_size
FROM windows AS w
LEFT JOIN resolved AS r ON r.window_end = w.window_end
GROUP BY w.window_end
