-- id: client_churn_rate
-- version: 4
-- description: Share of the clients paying at the window's start who no longer pay at its end
-- window: 30d
-- unit: fraction
-- name: Client churn rate
-- section: Clients
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
-- windows: table
-- uses: client_subscriptions, client_mrr_windows
--
-- Version 4 gives the figures of version 3 from the run's shared table
-- client_subscriptions (each client's subscription rows in one value):
-- the MRR at each window's ends is mrr_at() of one row per client
-- (client_mrr_windows), not a join and a sum over the subscriptions
-- per window in every metric.
--
-- Version 3 gives the figures of version 2 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`);
-- a window without clients paying at its start keeps its row (the LEFT
-- JOIN), counting only matched clients (m.client_id set).
--
-- churned_clients / S. Clients who join and leave inside the window are
-- not in S; a row starting exactly at the start is part of the state then.
-- Also annualised: 1 - (1 - monthly)^12, never 12 * monthly: a window of
-- d days compounds 360 / d times a year (12 for the default 30d).
WITH rate AS (
    SELECT
        w.window_end,
        CAST(COUNT(m.client_id) FILTER (WHERE mrr_b = 0) AS DOUBLE) / NULLIF(COUNT(m.client_id), 0) AS monthly,
        COUNT(m.client_id) AS clients
    FROM windows AS w
    LEFT JOIN client_movements_by_window AS m
        ON m.window_end = w.window_end
       AND mrr_a > 0
    GROUP BY w.window_end
)
SELECT
    window_end,
    monthly AS value,
    1 - POWER(1 - monthly, 360.0 / $window_days) AS annualised,
    clients AS sample_size
FROM rate
