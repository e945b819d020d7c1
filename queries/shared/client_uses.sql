-- materialise: run
-- Shared table: each client's usage events per local day, one row per
-- client_id, over every window the run reads ($run_start to $run_end). A
-- metric counts its window's events with
-- tally_in(uses, local_date($window_start), local_date($window_end)).
client_uses AS (
    SELECT client_id, day_tally(local_date(occurred_at)) AS uses
    FROM usage_events
    WHERE occurred_at >= $run_start AND occurred_at < $run_end
    GROUP BY client_id
)
