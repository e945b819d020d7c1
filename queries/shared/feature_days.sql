-- materialise: run
-- Shared table: each user's local days of use of each feature the config
-- names ($features), one row per (feature, client_id, user_id), over every
-- window the run reads ($run_start to $run_end); see usage_days.
feature_days AS (
    SELECT feature, client_id, user_id, day_set(local_date(occurred_at)) AS days
    FROM usage_events
    WHERE occurred_at >= $run_start AND occurred_at < $run_end
      AND array_has(CAST($features AS VARCHAR[]), feature)
    GROUP BY feature, client_id, user_id
)
