-- materialise: run
-- Shared table: each user's local days of use, one row per (client_id,
-- user_id), over every window the run reads ($run_start to $run_end). A
-- metric counts the days of its own window with
-- days_in(days, local_date($window_start), local_date($window_end)):
-- windows start and end at local midnight, so that count is exactly the
-- distinct local days of the window's events.
usage_days AS (
    SELECT client_id, user_id, day_set(local_date(occurred_at)) AS days
    FROM usage_events
    WHERE occurred_at >= $run_start AND occurred_at < $run_end
    GROUP BY client_id, user_id
)
