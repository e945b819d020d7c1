-- materialise: run
-- Shared table: each client's order amounts with their local days, one
-- row per client_id, over every window the run reads ($run_start to
-- $run_end). A metric sums a client's orders in its window with
-- sum_in(amounts, local_date($window_start), local_date($window_end)):
-- windows start and end at local midnight, so an order's local day is in
-- the window's days exactly when its instant is in the window, and
-- sum_in adds the amounts exactly, as sum() does, so the sum is the same
-- to the last bit. revenue_growth_per_client reads it, where its
-- version 2 joined every order to every window whose 180 days hold it
-- (at demo scale 1600, 1.8 M orders, each in up to 12 windows) and
-- summed them per window and client.
order_amounts AS (
    SELECT client_id, day_values(local_date(ordered_at), CAST(amount AS DOUBLE)) AS amounts
    FROM orders
    WHERE ordered_at >= $run_start AND ordered_at < $run_end
    GROUP BY client_id
)
