-- id: at_risk_mrr
-- version: 2
-- description: MRR of the paying clients at risk (as at_risk_clients finds them) at the window's end
-- window: 28d
-- unit: money
-- name: MRR at risk
-- section: Clients
-- format: money
-- drivers: sum
-- owner: data-team
-- uses: client_mrr, client_uses, at_risk_v2
--
-- Version 2 gives the same figures as version 1, counting usage_drop's
-- events from the run's shared table client_uses (see shared/at_risk_v2).
--
-- The sample is the number of clients at risk.
SELECT
    COALESCE(SUM(mrr), 0) AS value,
    COUNT(*) AS sample_size
FROM (
    SELECT client_id, MAX(mrr) AS mrr
    FROM at_risk_signals
    GROUP BY client_id
) AS at_risk
