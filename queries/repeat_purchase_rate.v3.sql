-- id: repeat_purchase_rate
-- version: 3
-- description: Of clients with an order in the 30 days before the window, the share ordering in it
-- window: 30d
-- unit: fraction
-- name: Repeat purchase rate
-- section: Clients
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
-- windows: table
-- uses: order_days
--
-- Version 3 gives the figures of version 2 from the run's shared table
-- order_days (each client's days with an order, one row per client): of
-- the clients with a day in the window before, those with a day in the
-- window, where version 2 joined every order to every window twice and
-- kept the distinct (window, client) pairs of each. A window without
-- clients who ordered the window before keeps its row (the LEFT JOIN),
-- with no value and a sample of 0.
--
-- Version 2 gives the figures of version 1 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`).
-- A window without clients who ordered the window before keeps its row
-- (the LEFT JOIN).
SELECT
    w.window_end,
    CAST(COUNT(d.client_id) FILTER (
        WHERE days_in(d.days, local_date(w.window_start), local_date(w.window_end)) > 0
    ) AS DOUBLE) / NULLIF(COUNT(d.client_id), 0) AS value,
    COUNT(d.client_id) AS sample_size
FROM windows AS w
LEFT JOIN order_days AS d
  ON days_in(d.days, local_date(w.previous_window_start), local_date(w.window_start)) > 0
GROUP BY w.window_end
