-- id: onboarding_completion_rate
-- version: 1
-- description: Of onboardings whose deadline falls in the window, the share completed by the deadline
-- window: 30d
-- unit: fraction
-- name: Onboardings completed on time
-- section: Support and delivery
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
--
-- deadline = started_at + target_days (the config's default when null).
WITH deadlines AS (
    SELECT
        completed_at,
        add_days(started_at, COALESCE(target_days, $onboarding_target_days)) AS deadline
    FROM onboarding
)
SELECT
    CAST(COUNT(*) FILTER (WHERE completed_at <= deadline) AS DOUBLE) / NULLIF(COUNT(*), 0) AS value,
    COUNT(*) AS sample_size
FROM deadlines
WHERE deadline >= $window_start
  AND deadline < $window_end
