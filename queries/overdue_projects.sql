-- id: overdue_projects
-- version: 1
-- description: Projects past their due date and not completed by the week's end
-- window: as_of_end
-- unit: count
-- name: Overdue projects
-- section: Support and delivery
-- format: count
-- drivers: sum
-- owner: data-team
SELECT
    COUNT(*) AS value,
    COUNT(*) AS sample_size
FROM projects
WHERE due_at < $window_end
  AND (completed_at IS NULL OR completed_at >= $window_end)
