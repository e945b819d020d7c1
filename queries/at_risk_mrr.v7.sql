-- id: at_risk_mrr
-- version: 7
-- description: MRR of the paying clients at risk (as at_risk_clients finds them) at the window's end
-- window: 28d
-- unit: money
-- name: MRR at risk
-- section: Clients
-- format: money
-- drivers: sum
-- owner: data-team
-- windows: table
-- uses: client_mrr, client_subscriptions, client_mrr_windows, client_uses, client_tickets, risk_answers, at_risk_by_window_v3, at_risk_signals
--
-- Version 7 gives the figures of version 6 from the run's shared table
-- at_risk_signals (shared/at_risk_signals.sql), computed once per run for
-- every week of the trend: each client at risk once per window, with its
-- MRR at the window's end.
--
-- Version 6 gives the figures and items of version 5 from
-- shared/at_risk_by_window_v3: the old-ticket signal reads each client's
-- tickets from one row of the shared table client_tickets instead of
-- joining every ticket to every window, and the survey signals read the
-- answers they look for from the shared table risk_answers instead of
-- filtering all of survey_responses six times.
--
-- Version 5 gives the figures of version 4 from one narrow row per client
-- at risk and window (shared/at_risk_by_window_v2's
-- at_risk_scores_by_window, a grouped sum) instead of scoring every
-- signal row with a window function first.
SELECT
    w.window_end,
    COALESCE(SUM(a.mrr), 0) AS value,
    COUNT(a.client_id) AS sample_size
FROM windows AS w
LEFT JOIN (
    SELECT DISTINCT window_end, client_id, mrr FROM at_risk_signals
) AS a ON a.window_end = w.window_end
GROUP BY w.window_end
