-- id: mrr
-- version: 3
-- description: Monthly recurring revenue of the subscriptions active at the week's end
-- window: as_of_end
-- unit: money
-- name: Monthly recurring revenue
-- section: Revenue
-- format: money
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
-- one query over the table `windows`, a row per window (`window_end`).
SELECT
    w.window_end,
    COALESCE(SUM(m.mrr), 0) AS value,
    COUNT(*) FILTER (WHERE m.mrr > 0) AS sample_size
FROM windows AS w
LEFT JOIN mrr_at_window_end AS m ON m.window_end = w.window_end
GROUP BY w.window_end
