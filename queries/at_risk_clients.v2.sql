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
-- uses: client_mrr, at_risk
--
-- The figure is the number of clients at risk out of the paying clients.
-- One item per (client, signal): the signal's kind, the client, its
-- account manager, its MRR, its score and what the signal saw; the
-- riskiest clients first (score, then MRR), each client's signals by
-- weight.
--
-- Version 2 gives the same rows as version 1 from one evaluation of the
-- signals: the figure's row is the grand total of a GROUPING SETS over
-- the item rows. Version 1 read `at_risk_signals` twice (once for the
-- figure, once for the items), and DataFusion computes a CTE once per
-- reference, so every signal's tables were read twice.
WITH items AS (
    SELECT
        a.signal AS item,
        a.client_id,
        c.name AS client,
        c.account_manager,
        a.detail,
        CAST(a.mrr AS DOUBLE) AS mrr,
        a.score,
        a.weight
    FROM at_risk_signals AS a
    LEFT JOIN clients AS c ON c.client_id = a.client_id
)
SELECT
    item,
    client_id,
    client,
    account_manager,
    detail,
    CASE WHEN GROUPING(item) = 1 THEN CAST(COUNT(DISTINCT client_id) AS DOUBLE) END AS value,
    CASE WHEN GROUPING(item) = 1 THEN (SELECT COUNT(*) FROM risk_paying) END AS sample_size,
    mrr,
    score,
    weight
FROM items
GROUP BY GROUPING SETS ((item, client_id, client, account_manager, detail, mrr, score, weight), ())
ORDER BY score DESC NULLS FIRST, mrr DESC, client_id, weight DESC, item
