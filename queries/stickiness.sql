-- id: stickiness
-- version: 1
-- description: DAU/MAU: mean daily active users over the window's days, over its distinct active users
-- window: 28d
-- unit: fraction
-- name: Stickiness (DAU/MAU)
-- section: Engagement
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
--
-- Days are local_date() in the report's time zone; a day with no user
-- counts as 0, so the mean is (user, day) pairs / days in the window.
WITH active AS (
    SELECT DISTINCT client_id, user_id, local_date(occurred_at) AS day
    FROM usage_events
    WHERE occurred_at >= $window_start AND occurred_at < $window_end
),
users AS (
    SELECT COUNT(*) AS monthly FROM (SELECT DISTINCT client_id, user_id FROM active) AS u
)
SELECT
    (CAST((SELECT COUNT(*) FROM active) AS DOUBLE) / $window_days)
        / NULLIF((SELECT monthly FROM users), 0) AS value,
    (SELECT monthly FROM users) AS sample_size
