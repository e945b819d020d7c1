-- id: at_risk_mrr
-- version: 4
-- description: MRR of the paying clients at risk (as at_risk_clients finds them) at the window's end
-- window: 28d
-- unit: money
-- name: MRR at risk
-- section: Clients
-- format: money
-- drivers: sum
-- owner: data-team
-- windows: table
-- uses: client_mrr, client_subscriptions, client_mrr_windows, client_uses, at_risk_by_window
--
-- Version 4 gives the figures of version 3 with each client's MRR at its
-- windows' ends (who is paying, and the contraction signal) read from the
-- run's shared table client_subscriptions (client_mrr_windows) instead of
-- joined and summed from the subscriptions per window, twice over (for
-- the counts and for the items); the renewal signal still reads the
-- subscription rows (client_mrr's row_mrr).
--
-- Version 3 gives the figures of version 2 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`),
-- from the signals of every window at once (shared/at_risk_by_window).
SELECT
    w.window_end,
    COALESCE(SUM(a.mrr), 0) AS value,
    COUNT(a.client_id) AS sample_size
FROM windows AS w
LEFT JOIN (
    SELECT window_end, client_id, MAX(mrr) AS mrr
    FROM at_risk_signals_by_window
    GROUP BY window_end, client_id
) AS a ON a.window_end = w.window_end
GROUP BY w.window_end
