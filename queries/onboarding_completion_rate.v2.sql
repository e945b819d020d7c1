-- id: onboarding_completion_rate
-- version: 2
-- description: Of onboardings whose deadline falls in the window, the share completed by the deadline
-- window: 30d
-- unit: fraction
-- name: Onboardings completed on time
-- section: Support and delivery
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
-- windows: table
--
-- Version 2 gives the figures of version 1 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`).
-- A window without deadlines keeps its row (the LEFT JOIN); only matched
-- onboardings are counted (d.deadline set).
--
-- deadline = started_at + target_days (the config's default when null).
WITH deadlines AS (
    SELECT
        completed_at,
        add_days(started_at, COALESCE(target_days, $onboarding_target_days)) AS deadline
    FROM onboarding
)
SELECT
    w.window_end,
    CAST(COUNT(d.deadline) FILTER (WHERE d.completed_at <= d.deadline) AS DOUBLE) / NULLIF(COUNT(d.deadline), 0) AS value,
    COUNT(d.deadline) AS sample_size
FROM windows AS w
LEFT JOIN deadlines AS d
  ON d.deadline >= w.window_start
 AND d.deadline < w.window_end
GROUP BY w.window_end
