-- id: expansion_mrr
-- version: 3
-- description: MRR gained by clients paying more at the window's end than at its start
-- window: 30d
-- unit: money
-- name: Expansion MRR
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
-- one query over the table `windows`, a row per window (`window_end`);
-- a window without movements keeps its row (the LEFT JOIN), counting
-- only matched clients (m.client_id set).
SELECT
    w.window_end,
    COALESCE(SUM(mrr_b - mrr_a) FILTER (WHERE mrr_a > 0 AND mrr_b > mrr_a), 0) AS value,
    COUNT(m.client_id) FILTER (WHERE mrr_a > 0 AND mrr_b > mrr_a) AS sample_size
FROM windows AS w
LEFT JOIN client_movements_by_window AS m
    ON m.window_end = w.window_end
GROUP BY w.window_end
