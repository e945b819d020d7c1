-- id: feature_adoption
-- version: 2
-- description: For each feature the config names: its distinct users over the distinct active users of the window
-- window: 28d
-- unit: fraction
-- name: Feature adoption
-- section: Engagement
-- format: percent
-- headline: items
-- owner: data-team
--
-- One item per configured feature ($features), 0 when nobody used it.
-- A user is a (client_id, user_id) pair. Version 2 gives the same figures
-- as version 1, counting each feature's users from the distinct (feature,
-- client, user) triples instead of a distinct count of (client, user)
-- pairs, which is much slower on many events.
WITH uses AS (
    SELECT DISTINCT feature, client_id, user_id
    FROM usage_events
    WHERE occurred_at >= $window_start AND occurred_at < $window_end
),
active AS (
    SELECT COUNT(*) AS users FROM (SELECT DISTINCT client_id, user_id FROM uses) AS u
),
configured AS (
    SELECT unnest(CAST($features AS VARCHAR[])) AS feature
),
by_feature AS (
    SELECT feature, COUNT(*) AS users
    FROM uses
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
