-- id: first_response_time
-- version: 2
-- description: Median time to first response of tickets opened in the window and answered before its end
-- window: 7d
-- unit: seconds
-- name: First response time (median)
-- section: Support and delivery
-- format: duration
-- owner: data-team
-- windows: table
--
-- Version 2 gives the figures of version 1 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`).
-- A window without answered tickets keeps its row (the LEFT JOIN); only
-- matched tickets are counted (a.window_end set).
--
-- Durations are business_seconds(): calendar time unless the config has a
-- business calendar. Also p90 and mean; exact percentiles interpolated between ranks
-- (percentile_exact, as PostgreSQL's percentile_cont).
WITH answered AS (
    SELECT w.window_end, business_seconds(t.opened_at, t.first_response_at) AS seconds
    FROM windows AS w
    JOIN tickets AS t
      ON t.opened_at >= w.window_start
     AND t.opened_at < w.window_end
     AND t.first_response_at < w.window_end
    WHERE t.opened_at >= $run_start
      AND t.opened_at < $run_end
)
SELECT
    w.window_end,
    percentile_exact(a.seconds, 0.5) AS value,
    percentile_exact(a.seconds, 0.9) AS p90,
    AVG(a.seconds) AS mean,
    COUNT(a.window_end) AS sample_size
FROM windows AS w
LEFT JOIN answered AS a ON a.window_end = w.window_end
GROUP BY w.window_end
