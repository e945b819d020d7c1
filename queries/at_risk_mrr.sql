-- id: at_risk_mrr
-- version: 1
-- description: MRR of the paying clients at risk (as at_risk_clients finds them) at the window's end
-- window: 28d
-- unit: money
-- name: MRR at risk
-- section: Clients
-- format: money
-- drivers: sum
-- owner: data-team
-- uses: client_mrr, at_risk
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
