-- id: repeat_purchase_rate
-- version: 2
-- description: Of clients with an order in the 30 days before the window, the share ordering in it
-- window: 30d
-- unit: fraction
-- name: Repeat purchase rate
-- section: Clients
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
-- windows: table
--
-- Version 2 gives the figures of version 1 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`).
-- A window without clients who ordered the window before keeps its row
-- (the LEFT JOIN).
WITH before AS (
    SELECT DISTINCT w.window_end, o.client_id
    FROM windows AS w
    JOIN orders AS o
      ON o.ordered_at >= w.previous_window_start
     AND o.ordered_at < w.window_start
    WHERE o.ordered_at >= $run_start
      AND o.ordered_at < $run_end
),
now AS (
    SELECT DISTINCT w.window_end, o.client_id
    FROM windows AS w
    JOIN orders AS o
      ON o.ordered_at >= w.window_start
     AND o.ordered_at < w.window_end
    WHERE o.ordered_at >= $run_start
      AND o.ordered_at < $run_end
)
SELECT
    w.window_end,
    CAST(COUNT(n.client_id) AS DOUBLE) / NULLIF(COUNT(b.client_id), 0) AS value,
    COUNT(b.client_id) AS sample_size
FROM windows AS w
LEFT JOIN before AS b ON b.window_end = w.window_end
LEFT JOIN now AS n
  ON n.window_end = b.window_end
 AND n.client_id = b.client_id
GROUP BY w.window_end
