-- id: revenue_growth_per_client
-- version: 1
-- description: Order revenue growth of clients that ordered in both the window and the window before it
-- window: 90d
-- unit: fraction
-- name: Revenue growth per client
-- section: Revenue
-- format: percent
-- items: rise=Largest rise, fall=Largest fall
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
),
both_windows AS (
    SELECT
        b.client_id,
        c.name AS client,
        b.revenue_now / NULLIF(b.revenue_before, 0) - 1 AS growth,
        b.revenue_now,
        b.revenue_before
    FROM by_client AS b
    LEFT JOIN clients AS c ON c.client_id = b.client_id
    WHERE b.revenue_now IS NOT NULL AND b.revenue_before IS NOT NULL
),
-- The three clients with the largest rise and the three with the largest
-- fall, listed in the report beside the figure.
movers AS (
    SELECT
        client,
        growth,
        ROW_NUMBER() OVER (ORDER BY growth DESC, client_id) AS rise_rank,
        ROW_NUMBER() OVER (ORDER BY growth ASC, client_id) AS fall_rank
    FROM both_windows
)
SELECT
    NULL AS item,
    NULL AS client,
    SUM(revenue_now) / NULLIF(SUM(revenue_before), 0) - 1 AS value,
    COUNT(*) AS sample_size
FROM both_windows
UNION ALL
SELECT 'rise' AS item, client, growth AS value, NULL AS sample_size
FROM movers WHERE rise_rank <= 3 AND growth > 0
UNION ALL
SELECT 'fall' AS item, client, growth AS value, NULL AS sample_size
FROM movers WHERE fall_rank <= 3 AND growth < 0
ORDER BY item DESC NULLS FIRST, CASE WHEN item = 'rise' THEN -value ELSE value END, client
