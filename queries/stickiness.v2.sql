-- id: stickiness
-- version: 2
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
-- Version 2 gives the same figure as version 1 from one pass over the
-- window's events (version 1 read them twice: once for the (user, day)
-- pairs, once more for the users).
WITH active_days AS (
    SELECT client_id, user_id, COUNT(DISTINCT local_date(occurred_at)) AS days
    FROM usage_events
    WHERE occurred_at >= $window_start AND occurred_at < $window_end
    GROUP BY client_id, user_id
)
SELECT
    (CAST(SUM(days) AS DOUBLE) / $window_days) / NULLIF(COUNT(*), 0) AS value,
    COUNT(*) AS sample_size
FROM active_days
