-- id: paying_clients
-- version: 3
-- description: Clients paying at the week's end (client MRR above zero)
-- window: as_of_end
-- unit: count
-- name: Paying clients
-- section: Revenue
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
-- a window without paying clients keeps its row (the LEFT JOIN),
-- counting only matched clients (m.client_id set).
SELECT
    w.window_end,
    COUNT(m.client_id) AS value,
    COUNT(m.client_id) AS sample_size
FROM windows AS w
LEFT JOIN mrr_at_window_end AS m
    ON m.window_end = w.window_end
   AND mrr > 0
GROUP BY w.window_end
