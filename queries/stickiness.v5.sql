-- id: stickiness
-- version: 5
-- description: DAU/MAU: mean daily active users over the window's days, over its distinct active users
-- window: 28d
-- unit: fraction
-- name: Stickiness (DAU/MAU)
-- section: Engagement
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
-- windows: table
-- uses: user_days
--
-- Version 5 gives the figures of version 4 from the run's shared table
-- user_days, which also holds each user's days per feature: the run then
-- makes one pass over the events for stickiness and feature adoption,
-- not one for each.
--
-- Version 4 gives the figures of version 3 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`).
-- A window without active users keeps its row (the LEFT JOIN).
--
-- Days are local_date() in the report's time zone; a day with no user
-- counts as 0, so the mean is (user, day) pairs / days in the window,
-- from the run's shared table of each user's days (user_days).
WITH active_days AS (
    SELECT
        w.window_end,
        days_in(u.days, local_date(w.window_start), local_date(w.window_end)) AS days
    FROM windows AS w
    CROSS JOIN user_days AS u
)
SELECT
    w.window_end,
    (CAST(SUM(a.days) AS DOUBLE) / $window_days) / NULLIF(COUNT(a.days), 0) AS value,
    COUNT(a.days) AS sample_size
FROM windows AS w
LEFT JOIN active_days AS a
  ON a.window_end = w.window_end
 AND a.days > 0
GROUP BY w.window_end
