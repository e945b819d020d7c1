-- id: feature_adoption
-- version: 5
-- description: For each feature the config names: its distinct users over the distinct active users of the window
-- window: 28d
-- unit: fraction
-- name: Feature adoption
-- section: Engagement
-- format: percent
-- headline: items
-- owner: data-team
-- uses: user_days
-- windows: table
--
-- Version 5 gives the figures of version 4 from the run's shared table
-- user_days: one row per user with the user's days and a day set per
-- configured feature (day_sets_by), made in one pass over the events with
-- stickiness's; each feature's users are the users whose set for it
-- (day_set_of) has a day in the window.
--
-- Version 4 gives the figures of version 3 for every week a run needs in
-- one query over the table `windows`: a row per window (`window_end`)
-- with its active users (0 for a window without any, the LEFT JOIN), and
-- an item per (window, configured feature), 0 when nobody used it.
--
-- One item per configured feature ($features), 0 when nobody used it.
-- A user is a (client_id, user_id) pair: the active users from each
-- user's days, each feature's users from each user's days per configured
-- feature, both in the run's shared table user_days.
WITH active_days AS (
    SELECT
        w.window_end,
        days_in(u.days, local_date(w.window_start), local_date(w.window_end)) AS days
    FROM windows AS w
    CROSS JOIN user_days AS u
),
active AS (
    SELECT w.window_end, COUNT(d.days) AS users
    FROM windows AS w
    LEFT JOIN active_days AS d
      ON d.window_end = w.window_end
     AND d.days > 0
    GROUP BY w.window_end
),
-- Each configured feature once, however often the config names it.
features AS (
    SELECT DISTINCT unnest(CAST($features AS VARCHAR[])) AS feature
),
-- The configured features, and NULL for the window's own row: one
-- reference to `active`, so the users are counted once.
configured AS (
    SELECT feature FROM features
    UNION ALL
    SELECT CAST(NULL AS VARCHAR) AS feature
),
-- Each user's days of each configured feature (NULL for one never used).
feature_sets AS (
    SELECT f.feature, day_set_of(u.feature_days, f.feature) AS days
    FROM features AS f
    CROSS JOIN user_days AS u
    WHERE u.feature_days IS NOT NULL
),
feature_user_days AS (
    SELECT
        w.window_end,
        s.feature,
        days_in(s.days, local_date(w.window_start), local_date(w.window_end)) AS days
    FROM windows AS w
    CROSS JOIN feature_sets AS s
),
by_feature AS (
    SELECT window_end, feature, COUNT(*) AS users
    FROM feature_user_days
    WHERE days > 0
    GROUP BY window_end, feature
)
SELECT
    a.window_end,
    c.feature AS item,
    CASE WHEN c.feature IS NOT NULL
        THEN CAST(COALESCE(f.users, 0) AS DOUBLE) / NULLIF(a.users, 0)
    END AS value,
    a.users AS sample_size
FROM active AS a
CROSS JOIN configured AS c
LEFT JOIN by_feature AS f
  ON f.window_end = a.window_end
 AND f.feature = c.feature
ORDER BY window_end, item NULLS FIRST
