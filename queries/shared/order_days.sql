-- materialise: run
-- Shared table: each client's local days with an order, one row per
-- client_id, over every window the run reads ($run_start to $run_end).
-- A metric asks whether a client ordered in its window with
-- days_in(days, local_date($window_start), local_date($window_end)) > 0:
-- windows start and end at local midnight, so an order's local day is in
-- the window's days exactly when its instant is in the window. clv and
-- repeat_purchase_rate read it, where each joined every order to every
-- window it falls in and kept the distinct (window, client) pairs (at
-- demo scale 1600, 3.5 M orders, each in up to 12 of clv's windows).
order_days AS (
    SELECT client_id, day_set(local_date(ordered_at)) AS days
    FROM orders
    WHERE ordered_at >= $run_start AND ordered_at < $run_end
    GROUP BY client_id
)
