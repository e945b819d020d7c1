-- id: reactivation_mrr
-- version: 3
-- description: MRR at the window's end of returning clients (paid before, not at its start)
-- window: 30d
-- unit: money
-- name: Reactivation MRR
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
    COALESCE(SUM(mrr_b) FILTER (WHERE mrr_a = 0 AND mrr_b > 0 AND paid_before), 0) AS value,
    COUNT(m.client_id) FILTER (WHERE mrr_a = 0 AND mrr_b > 0 AND paid_before) AS sample_size
FROM windows AS w
LEFT JOIN client_movements_by_window AS m
    ON m.window_end = w.window_end
GROUP BY w.window_end
