-- id: project_on_time_rate
-- version: 1
-- description: Of projects completed in the window, the share completed by their due date
-- window: 28d
-- unit: fraction
-- name: Projects delivered on time
-- section: Support and delivery
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
SELECT
    CAST(COUNT(*) FILTER (WHERE completed_at <= due_at) AS DOUBLE) / NULLIF(COUNT(*), 0) AS value,
    COUNT(*) AS sample_size
FROM projects
WHERE completed_at >= $window_start
  AND completed_at < $window_end
