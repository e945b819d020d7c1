-- id: clv
-- version: 3
-- description: Client lifetime value: average order value x orders per client per month x 1 / monthly churn
-- window: 365d
-- unit: money
-- name: Client lifetime value
-- section: Revenue
-- format: money
-- owner: data-team
-- uses: client_mrr, client_mrr_by_window
-- windows: table
--
-- Version 3 gives the figures of version 2 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`):
-- each window's orders, and its monthly churn over the 30 days before its
-- end (`churn_window_start`). A window without orders keeps its row (the
-- LEFT JOIN; only matched orders are counted). Sums of DOUBLE are exact
-- whatever the order of their rows, so the figures are version 2's to
-- the last bit.
--
-- The lifespan uses client_churn_rate over the 30 days ending at the
-- window's end; CLV is null when that churn is 0 or has no clients.
-- Orders per client per month divide by the window's months
-- ($window_days * 12 / 365: 12 for the default 365d).
WITH orders_in_window AS (
    SELECT
        w.window_end,
        SUM(CAST(o.amount AS DOUBLE)) AS revenue,
        COUNT(o.ordered_at) AS orders,
        COUNT(DISTINCT o.client_id) AS clients
    FROM windows AS w
    LEFT JOIN orders AS o
      ON o.ordered_at >= w.window_start
     AND o.ordered_at < w.window_end
     AND o.ordered_at >= $run_start
     AND o.ordered_at < $run_end
    GROUP BY w.window_end
),
churn_start AS (
    SELECT w.window_end, r.client_id
    FROM windows AS w
    JOIN row_mrr AS r
      ON r.started_at <= w.churn_window_start
     AND (r.ended_at IS NULL OR r.ended_at > w.churn_window_start)
    GROUP BY w.window_end, r.client_id
    HAVING SUM(r.mrr) > 0
),
monthly_churn AS (
    SELECT
        w.window_end,
        CAST(COUNT(s.client_id) FILTER (WHERE e.mrr IS NULL OR e.mrr <= 0) AS DOUBLE)
            / NULLIF(COUNT(s.client_id), 0) AS rate
    FROM windows AS w
    LEFT JOIN churn_start AS s ON s.window_end = w.window_end
    LEFT JOIN mrr_at_window_end AS e
      ON e.window_end = s.window_end
     AND e.client_id = s.client_id
    GROUP BY w.window_end
)
SELECT
    o.window_end,
    (o.revenue / NULLIF(o.orders, 0))
        * (CAST(o.orders AS DOUBLE) / NULLIF(o.clients, 0) / ($window_days * 12.0 / 365))
        / NULLIF(c.rate, 0) AS value,
    o.clients AS sample_size
FROM orders_in_window AS o
JOIN monthly_churn AS c ON c.window_end = o.window_end
