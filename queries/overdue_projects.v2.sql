-- id: overdue_projects
-- version: 2
-- description: Projects past their due date and not completed by the week's end
-- window: as_of_end
-- unit: count
-- name: Overdue projects
-- section: Support and delivery
-- format: count
-- drivers: sum
-- owner: data-team
-- windows: table
--
-- Version 2 gives the figures of version 1 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`).
-- A window without overdue projects keeps its row (the LEFT JOIN); only
-- matched projects are counted (p.due_at set).
SELECT
    w.window_end,
    COUNT(p.due_at) AS value,
    COUNT(p.due_at) AS sample_size
FROM windows AS w
LEFT JOIN projects AS p
  ON p.due_at < w.window_end
 AND (p.completed_at IS NULL OR p.completed_at >= w.window_end)
GROUP BY w.window_end
