-- id: paying_clients
-- version: 1
-- description: Clients paying at the week's end (client MRR above zero)
-- window: as_of_end
-- unit: count
-- owner: data-team
WITH client_mrr AS (
    SELECT
        client_id,
        SUM(CAST(amount AS DOUBLE) * (1 - COALESCE(discount_pct, 0)) / billing_period_months) AS mrr
    FROM subscriptions
    WHERE started_at <= $window_end
      AND (ended_at IS NULL OR ended_at > $window_end)
    GROUP BY client_id
)
SELECT
    COUNT(*) AS value,
    COUNT(*) AS sample_size
FROM client_mrr
WHERE mrr > 0
