-- id: feature_adoption
-- version: 3
-- description: For each feature the config names: its distinct users over the distinct active users of the window
-- window: 28d
-- unit: fraction
-- name: Feature adoption
-- section: Engagement
-- format: percent
-- headline: items
-- owner: data-team
-- uses: usage_days, feature_days
--
-- One item per configured feature ($features), 0 when nobody used it.
-- A user is a (client_id, user_id) pair. Version 2 gives the same figures
-- as version 1, counting each feature's users from the distinct (feature,
-- client, user) triples instead of a distinct count of (client, user)
-- pairs, which is much slower on many events. Version 3 gives the same
-- figures from the run's shared tables, computed once for every week of
-- the trend, instead of the window's raw events: the active users from
-- each user's days (usage_days), each feature's users from each user's
-- days per configured feature (feature_days).
WITH active AS (
    SELECT COUNT(*) AS users
    FROM usage_days
    WHERE days_in(days, local_date($window_start), local_date($window_end)) > 0
),
configured AS (
    SELECT unnest(CAST($features AS VARCHAR[])) AS feature
),
by_feature AS (
    SELECT feature, COUNT(*) AS users
    FROM feature_days
    WHERE days_in(days, local_date($window_start), local_date($window_end)) > 0
    GROUP BY feature
)
SELECT
    c.feature AS item,
    CAST(COALESCE(f.users, 0) AS DOUBLE) / NULLIF((SELECT users FROM active), 0) AS value,
    (SELECT users FROM active) AS sample_size
FROM configured AS c
LEFT JOIN by_feature AS f ON f.feature = c.feature
UNION ALL
SELECT NULL AS item, NULL AS value, (SELECT users FROM active) AS sample_size
ORDER BY item NULLS FIRST
