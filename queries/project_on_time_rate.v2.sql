-- id: project_on_time_rate
-- version: 2
-- description: Of projects completed in the window, the share completed by their due date
-- window: 28d
-- unit: fraction
-- name: Projects delivered on time
-- section: Support and delivery
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
-- windows: table
--
-- Version 2 gives the figures of version 1 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`).
-- A window without completed projects keeps its row (the LEFT JOIN);
-- only matched projects are counted (p.completed_at set).
SELECT
    w.window_end,
    CAST(COUNT(p.completed_at) FILTER (WHERE p.completed_at <= p.due_at) AS DOUBLE) / NULLIF(COUNT(p.completed_at), 0) AS value,
    COUNT(p.completed_at) AS sample_size
FROM windows AS w
LEFT JOIN projects AS p
  ON p.completed_at >= w.window_start
 AND p.completed_at < w.window_end
GROUP BY w.window_end
