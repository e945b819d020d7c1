-- id: at_risk_clients
-- version: 2
-- description: Paying clients whose risk signals weigh at least the config's at_risk.min_score, each with its signals
-- window: 28d
-- unit: count
-- name: Clients at risk
-- section: Clients
-- format: count
-- drivers: sum
-- items: usage_drop=Usage dropped, detractor=Detractor, unhappy_csat=Unhappy CSAT, old_ticket=Old ticket, overdue_project=Overdue project, late_onboarding=Late onboarding, contraction=Contraction, renewal_soon=Renewal soon
-- owner: data-team
-- uses: client_mrr, client_uses, at_risk_v2
--
-- Version 2 gives the same figures as version 1, counting usage_drop's
-- events from the run's shared table client_uses (see shared/at_risk_v2).
--
-- The figure is the number of clients at risk out of the paying clients.
-- One item per (client, signal): the signal's kind, the client, its
-- account manager, its MRR, its score and what the signal saw; the
-- riskiest clients first (score, then MRR), each client's signals by
-- weight.
SELECT
    NULL AS item,
    NULL AS client_id,
    NULL AS client,
    NULL AS account_manager,
    NULL AS detail,
    CAST((SELECT COUNT(DISTINCT client_id) FROM at_risk_signals) AS DOUBLE) AS value,
    (SELECT COUNT(*) FROM risk_paying) AS sample_size,
    CAST(NULL AS DOUBLE) AS mrr,
    CAST(NULL AS DOUBLE) AS score,
    CAST(NULL AS DOUBLE) AS weight
UNION ALL
SELECT
    a.signal AS item,
    a.client_id,
    c.name AS client,
    c.account_manager,
    a.detail,
    NULL AS value,
    NULL AS sample_size,
    CAST(a.mrr AS DOUBLE) AS mrr,
    a.score,
    a.weight
FROM at_risk_signals AS a
LEFT JOIN clients AS c ON c.client_id = a.client_id
ORDER BY score DESC NULLS FIRST, mrr DESC, client_id, weight DESC, item
