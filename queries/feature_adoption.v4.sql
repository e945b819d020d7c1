-- id: feature_adoption
-- version: 4
-- description: For each feature the config names: its distinct users over the distinct active users of the window
-- window: 28d
-- unit: fraction
-- name: Feature adoption
-- section: Engagement
-- format: percent
-- headline: items
-- owner: data-team
-- uses: usage_days, feature_days
-- windows: table
--
-- Version 4 gives the figures of version 3 for every week a run needs in
-- one query over the table `windows`: a row per window (`window_end`)
-- with its active users (0 for a window without any, the LEFT JOIN), and
-- an item per (window, configured feature), 0 when nobody used it.
--
-- One item per configured feature ($features), 0 when nobody used it.
-- A user is a (client_id, user_id) pair: the active users from each
-- user's days (usage_days), each feature's users from each user's days
-- per configured feature (feature_days), the run's shared tables.
WITH user_days AS (
    SELECT
        w.window_end,
        days_in(u.days, local_date(w.window_start), local_date(w.window_end)) AS days
    FROM windows AS w
    CROSS JOIN usage_days AS u
),
active AS (
    SELECT w.window_end, COUNT(d.days) AS users
    FROM windows AS w
    LEFT JOIN user_days AS d
      ON d.window_end = w.window_end
     AND d.days > 0
    GROUP BY w.window_end
),
-- The configured features, and NULL for the window's own row: one
-- reference to `active`, so the users are counted once.
configured AS (
    SELECT unnest(CAST($features AS VARCHAR[])) AS feature
    UNION ALL
    SELECT CAST(NULL AS VARCHAR) AS feature
),
feature_user_days AS (
    SELECT
        w.window_end,
        f.feature,
        days_in(f.days, local_date(w.window_start), local_date(w.window_end)) AS days
    FROM windows AS w
    CROSS JOIN feature_days AS f
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
