-- id: stickiness
-- version: 3
-- description: DAU/MAU: mean daily active users over the window's days, over its distinct active users
-- window: 28d
-- unit: fraction
-- name: Stickiness (DAU/MAU)
-- section: Engagement
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
-- uses: usage_days
--
-- Days are local_date() in the report's time zone; a day with no user
-- counts as 0, so the mean is (user, day) pairs / days in the window.
-- Version 3 gives the same figure as version 2 from the run's shared
-- table of each user's days (usage_days), computed once for every week of
-- the trend, instead of the window's raw events.
WITH active_days AS (
    SELECT days_in(days, local_date($window_start), local_date($window_end)) AS days
    FROM usage_days
)
SELECT
    (CAST(SUM(days) AS DOUBLE) / $window_days) / NULLIF(COUNT(*), 0) AS value,
    COUNT(*) AS sample_size
FROM active_days
WHERE days > 0
