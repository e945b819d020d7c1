-- id: churned_clients
-- version: 1
-- description: Clients paying at the window's start and not at its end
-- window: 30d
-- unit: count
-- owner: data-team
--
-- Sample size is S, the clients paying at the start. A row starting
-- exactly at the window's start is part of the state at the start.
WITH mrr_at_start AS (
    SELECT client_id
    FROM subscriptions
    WHERE started_at <= $window_start
      AND (ended_at IS NULL OR ended_at > $window_start)
    GROUP BY client_id
    HAVING SUM(CAST(amount AS DOUBLE) * (1 - COALESCE(discount_pct, 0)) / billing_period_months) > 0
),
mrr_at_end AS (
    SELECT client_id
    FROM subscriptions
    WHERE started_at <= $window_end
      AND (ended_at IS NULL OR ended_at > $window_end)
    GROUP BY client_id
    HAVING SUM(CAST(amount AS DOUBLE) * (1 - COALESCE(discount_pct, 0)) / billing_period_months) > 0
)
SELECT
    SUM(CASE WHEN e.client_id IS NULL THEN 1 ELSE 0 END) AS value,
    COUNT(*) AS sample_size
FROM mrr_at_start s
LEFT JOIN mrr_at_end e ON s.client_id = e.client_id
