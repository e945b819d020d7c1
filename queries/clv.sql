-- id: clv
-- version: 1
-- description: Client lifetime value: average order value x orders per client per month x 1 / monthly churn
-- window: 365d
-- unit: money
-- name: Client lifetime value
-- section: Revenue
-- format: money
-- owner: data-team
-- uses: client_mrr
--
-- The lifespan uses client_churn_rate over the 30 days ending at the
-- window's end; CLV is null when that churn is 0 or has no clients.
WITH orders_in_window AS (
    SELECT
        SUM(CAST(amount AS DOUBLE)) AS revenue,
        COUNT(*) AS orders,
        COUNT(DISTINCT client_id) AS clients
    FROM orders
    WHERE ordered_at >= $window_start AND ordered_at < $window_end
),
churn_start AS (
    SELECT client_id
    FROM row_mrr
    WHERE started_at <= $churn_window_start
      AND (ended_at IS NULL OR ended_at > $churn_window_start)
    GROUP BY client_id
    HAVING SUM(mrr) > 0
),
monthly_churn AS (
    SELECT
        CAST(COUNT(*) FILTER (WHERE e.mrr IS NULL OR e.mrr <= 0) AS DOUBLE)
            / NULLIF(COUNT(*), 0) AS rate
    FROM churn_start AS s
    LEFT JOIN mrr_at_end AS e ON e.client_id = s.client_id
)
SELECT
    (o.revenue / NULLIF(o.orders, 0))
        * (CAST(o.orders AS DOUBLE) / NULLIF(o.clients, 0) / 12)
        / NULLIF(c.rate, 0) AS value,
    o.clients AS sample_size
FROM orders_in_window AS o
CROSS JOIN monthly_churn AS c
