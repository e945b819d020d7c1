-- id: mrr
-- version: 1
-- description: Monthly recurring revenue of the subscriptions active at the week's end
-- window: as_of_end
-- unit: money
-- owner: data-team
--
-- A row is active at t when started_at <= t and (ended_at is null or
-- ended_at > t); its monthly revenue is amount * (1 - discount) / months.
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
    COALESCE(SUM(mrr), 0) AS value,
    COUNT(*) FILTER (WHERE mrr > 0) AS sample_size
FROM client_mrr
