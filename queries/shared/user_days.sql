-- materialise: run
-- Shared table: each user's local days of use, and of use of each feature
-- the config names ($features), one row per (client_id, user_id), over
-- every window the run reads ($run_start to $run_end), in one pass over
-- the events (usage_days and feature_days took one each, and
-- feature_days held a row per user and feature).
-- `days` is every event's day: a metric counts its window's days with
-- days_in(days, local_date($window_start), local_date($window_end)).
-- `feature_days` holds a day set per configured feature the user used
-- (NULL when none): days_in(day_set_of(feature_days, 'api'), ...) counts
-- a feature's days the same way.
user_days AS (
    SELECT
        client_id,
        user_id,
        day_set(local_date(occurred_at)) AS days,
        day_sets_by(feature, local_date(occurred_at))
            FILTER (WHERE array_has(CAST($features AS VARCHAR[]), feature)) AS feature_days
    FROM usage_events
    WHERE occurred_at >= $run_start AND occurred_at < $run_end
    GROUP BY client_id, user_id
)
