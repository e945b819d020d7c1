-- id: revenue_growth_per_client
-- version: 2
-- description: Order revenue growth of clients that ordered in both the window and the window before it
-- window: 90d
-- unit: fraction
-- name: Revenue growth per client
-- section: Revenue
-- format: percent
-- items: rise=Largest rise, fall=Largest fall
-- owner: data-team
-- windows: table
--
-- Version 2 gives the figures and items of version 1 for every week a run
-- needs in one query over the table `windows`, a row per window
-- (`window_end`): each order is summed into every window whose 180 days
-- (the window and the one before it) hold it, per client. A window where
-- no client ordered in both keeps its row (the LEFT JOIN), counting only
-- matched clients. The movers are listed for the report's own week
-- ($window_end) only, the week whose items a report shows.
WITH by_client AS (
    SELECT
        w.window_end,
        o.client_id,
        SUM(CASE WHEN o.ordered_at >= w.window_start THEN CAST(o.amount AS DOUBLE) END) AS revenue_now,
        SUM(CASE WHEN o.ordered_at < w.window_start THEN CAST(o.amount AS DOUBLE) END) AS revenue_before
    FROM windows AS w
    JOIN orders AS o
      ON o.ordered_at >= w.previous_window_start
     AND o.ordered_at < w.window_end
    WHERE o.ordered_at >= $run_start
      AND o.ordered_at < $run_end
    GROUP BY w.window_end, o.client_id
),
both_windows AS (
    SELECT
        window_end,
        client_id,
        revenue_now / NULLIF(revenue_before, 0) - 1 AS growth,
        revenue_now,
        revenue_before
    FROM by_client
    WHERE revenue_now IS NOT NULL AND revenue_before IS NOT NULL
),
totals AS (
    SELECT
        w.window_end,
        SUM(b.revenue_now) / NULLIF(SUM(b.revenue_before), 0) - 1 AS value,
        COUNT(b.client_id) AS sample_size
    FROM windows AS w
    LEFT JOIN both_windows AS b ON b.window_end = w.window_end
    GROUP BY w.window_end
),
-- The three clients with the largest rise and the three with the largest
-- fall in the report's week, listed in the report beside the figure.
movers AS (
    SELECT
        b.window_end,
        c.name AS client,
        b.growth,
        ROW_NUMBER() OVER (ORDER BY b.growth DESC, b.client_id) AS rise_rank,
        ROW_NUMBER() OVER (ORDER BY b.growth ASC, b.client_id) AS fall_rank
    FROM both_windows AS b
    LEFT JOIN clients AS c ON c.client_id = b.client_id
    WHERE b.window_end = $window_end
)
SELECT window_end, NULL AS item, NULL AS client, value, sample_size
FROM totals
UNION ALL
SELECT window_end, 'rise' AS item, client, growth AS value, NULL AS sample_size
FROM movers WHERE rise_rank <= 3 AND growth > 0
UNION ALL
SELECT window_end, 'fall' AS item, client, growth AS value, NULL AS sample_size
FROM movers WHERE fall_rank <= 3 AND growth < 0
ORDER BY window_end, item DESC NULLS FIRST, CASE WHEN item = 'rise' THEN -value ELSE value END, client
