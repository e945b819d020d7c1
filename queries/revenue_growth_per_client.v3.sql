-- id: revenue_growth_per_client
-- version: 3
-- description: Order revenue growth of clients that ordered in both the window and the window before it
-- window: 90d
-- unit: fraction
-- name: Revenue growth per client
-- section: Revenue
-- format: percent
-- items: rise=Largest rise, fall=Largest fall
-- owner: data-team
-- uses: order_amounts
-- windows: table
--
-- Version 3 gives the figures and items of version 2 with each client's
-- revenue in a window and the window before summed from the run's shared
-- table order_amounts (each client's order amounts by local day, one row
-- per client): sum_in() of one row per client and window, where version 2
-- joined every order to every window whose 180 days hold it (1.8 M
-- orders at demo scale 1600, each in up to 12 windows) and grouped the
-- 20 M rows by window and client. sum_in adds exactly, as sum() does, so
-- the figures are version 2's to the last bit. A client with no order in
-- the window or in the one before has a NULL there and is left out, as
-- before.
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
        r.client_id,
        sum_in(r.amounts, local_date(w.window_start), local_date(w.window_end)) AS revenue_now,
        sum_in(r.amounts, local_date(w.previous_window_start), local_date(w.window_start)) AS revenue_before
    FROM windows AS w
    CROSS JOIN order_amounts AS r
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
