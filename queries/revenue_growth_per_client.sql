-- id: revenue_growth_per_client
-- version: 1
-- description: Order revenue growth of clients that ordered in both the window and the window before it
-- window: 90d
-- unit: fraction
-- owner: data-team
WITH by_client AS (
    SELECT
        client_id,
        SUM(CASE WHEN ordered_at >= $window_start THEN CAST(amount AS DOUBLE) END) AS revenue_now,
        SUM(CASE WHEN ordered_at < $window_start THEN CAST(amount AS DOUBLE) END) AS revenue_before
    FROM orders
    WHERE ordered_at >= $previous_window_start
      AND ordered_at < $window_end
    GROUP BY client_id
)
SELECT
    SUM(revenue_now) / NULLIF(SUM(revenue_before), 0) - 1 AS value,
    COUNT(*) AS sample_size
FROM by_client
WHERE revenue_now IS NOT NULL AND revenue_before IS NOT NULL
