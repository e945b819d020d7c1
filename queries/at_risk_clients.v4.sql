-- id: at_risk_clients
-- version: 4
-- description: Paying clients whose risk signals weigh at least the config's at_risk.min_score, each with its signals
-- window: 28d
-- unit: count
-- name: Clients at risk
-- section: Clients
-- format: count
-- drivers: sum
-- items: usage_drop=Usage dropped, detractor=Detractor, unhappy_csat=Unhappy CSAT, old_ticket=Old ticket, overdue_project=Overdue project, late_onboarding=Late onboarding, contraction=Contraction, renewal_soon=Renewal soon
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
-- one query: the signals of every window at once (shared/at_risk_by_window),
-- a row per window (`window_end`) with its count, and the items of the
-- report's own week ($window_end), the only week whose items are shown.
--
-- The figure is the number of clients at risk out of the paying clients.
-- One item per (client, signal): the signal's kind, the client, its
-- account manager, its MRR, its score and what the signal saw; the
-- riskiest clients first (score, then MRR), each client's signals by
-- weight.
WITH counts AS (
    SELECT
        w.window_end,
        CAST(COUNT(DISTINCT a.client_id) AS DOUBLE) AS value
    FROM windows AS w
    LEFT JOIN at_risk_signals_by_window AS a ON a.window_end = w.window_end
    GROUP BY w.window_end
),
paying AS (
    SELECT w.window_end, COUNT(p.client_id) AS sample_size
    FROM windows AS w
    LEFT JOIN risk_paying_by_window AS p ON p.window_end = w.window_end
    GROUP BY w.window_end
)
SELECT
    c.window_end,
    NULL AS item,
    NULL AS client_id,
    NULL AS client,
    NULL AS account_manager,
    NULL AS detail,
    c.value,
    p.sample_size,
    CAST(NULL AS DOUBLE) AS mrr,
    CAST(NULL AS DOUBLE) AS score,
    CAST(NULL AS DOUBLE) AS weight
FROM counts AS c
JOIN paying AS p ON p.window_end = c.window_end
UNION ALL
SELECT
    a.window_end,
    a.signal AS item,
    a.client_id,
    k.name AS client,
    k.account_manager,
    a.detail,
    NULL AS value,
    NULL AS sample_size,
    CAST(a.mrr AS DOUBLE) AS mrr,
    a.score,
    a.weight
FROM at_risk_signals_by_window AS a
LEFT JOIN clients AS k ON k.client_id = a.client_id
WHERE a.window_end = $window_end
ORDER BY window_end, score DESC NULLS FIRST, mrr DESC, client_id, weight DESC, item
