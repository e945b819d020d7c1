-- id: churned_clients
-- version: 3
-- description: Clients paying at the window's start and not at its end
-- window: 30d
-- unit: count
-- name: Churned clients
-- section: Clients
-- format: count
-- drivers: sum
-- owner: data-team
-- windows: table
-- uses: client_subscriptions, client_mrr_windows
--
-- Version 3 gives the figures of version 2 from the run's shared table
-- client_subscriptions (each client's subscription rows in one value):
-- the MRR at each window's ends is mrr_at() of one row per client
-- (client_mrr_windows), not a join and a sum over the subscriptions
-- per window in every metric.
--
-- Version 2 gives the figures of version 1 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`);
-- a window without movements keeps its row (the LEFT JOIN), counting
-- only matched clients (m.client_id set).
--
-- Sample size is S, the clients paying at the start.
SELECT
    w.window_end,
    COUNT(m.client_id) FILTER (WHERE mrr_b = 0) AS value,
    COUNT(m.client_id) AS sample_size
FROM windows AS w
LEFT JOIN client_movements_by_window AS m
    ON m.window_end = w.window_end
   AND mrr_a > 0
GROUP BY w.window_end
