-- id: stickiness
-- version: 6
-- description: DAU/MAU: mean daily active users over the window's days, over its distinct active users
-- window: 28d
-- unit: fraction
-- name: Stickiness (DAU/MAU)
-- section: Engagement
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
-- windows: table
-- uses: user_days, window_lists
--
-- Version 6 gives the figures of version 5 in one pass over the users
-- for all the windows: days_in_each and sets_in_each count each user's
-- days in every window at once, where version 5 paired every user with
-- every window (a row per pair) and counted each pair.
--
-- Version 5 gives the figures of version 4 from the run's shared table
-- user_days, which also holds each user's days per feature: the run then
-- makes one pass over the events for stickiness and feature adoption,
-- not one for each.
--
-- Version 4 gives the figures of version 3 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`).
-- A window without active users keeps its row, with no value.
--
-- Days are local_date() in the report's time zone; a day with no user
-- counts as 0, so the mean is (user, day) pairs / days in the window,
-- from the run's shared table of each user's days (user_days). Active
-- users are the users with a day in the window. window_lists (one row)
-- comes first in FROM: the side of the cross join held while the users
-- stream past.
WITH totals AS (
    SELECT
        days_in_each(u.days, w.froms, w.tos) AS days,
        sets_in_each(u.days, w.froms, w.tos) AS users
    FROM window_lists AS w
    CROSS JOIN user_days AS u
),
-- The i-th count of each list is the i-th window's.
by_window AS (
    SELECT
        unnest(w.window_ends) AS window_end,
        unnest(t.days) AS days,
        unnest(t.users) AS users
    FROM window_lists AS w
    CROSS JOIN totals AS t
)
SELECT
    window_end,
    (CAST(days AS DOUBLE) / $window_days) / NULLIF(users, 0) AS value,
    COALESCE(users, 0) AS sample_size
FROM by_window
