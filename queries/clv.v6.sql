-- id: clv
-- version: 6
-- description: Client lifetime value: average order value x orders per client per month x 1 / monthly churn
-- window: 365d
-- unit: money
-- name: Client lifetime value
-- section: Revenue
-- format: money
-- owner: data-team
-- uses: client_subscriptions, order_days
-- windows: table
--
-- Version 6 gives the figures of version 5 with each window's ordering
-- clients counted from the run's shared table order_days (each client's
-- days with an order, one row per client): a client ordered in a window
-- when one of its days is in the window's, where version 5 joined every
-- order to every window it falls in (3.5 M orders at demo scale 1600,
-- each in up to 12 windows) and kept the distinct (window, client) pairs.
--
-- Version 5 gives the figures of version 4 with each window's ordering
-- clients counted from one row per (window, client) (a grouped
-- aggregation, which spills) instead of COUNT(DISTINCT client_id) per
-- window, which holds every client of every window in memory at once: a
-- 365-day window at demo scale 1600 holds most of 192 k clients, 13 times,
-- and the run stopped under a 256 MiB memory_limit. Revenue and orders are
-- summed from the orders as before.
--
-- Version 4 gives the figures of version 3 from the run's shared table
-- client_subscriptions (each client's subscription rows in one value):
-- who paid at the churn window's start and at the window's end is
-- mrr_at() of one row per client, not a join and a sum over the
-- subscriptions per window.
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
        COUNT(o.ordered_at) AS orders
    FROM windows AS w
    LEFT JOIN orders AS o
      ON o.ordered_at >= w.window_start
     AND o.ordered_at < w.window_end
     AND o.ordered_at >= $run_start
     AND o.ordered_at < $run_end
    GROUP BY w.window_end
),
clients_in_window AS (
    SELECT w.window_end, COUNT(d.client_id) AS clients
    FROM windows AS w
    LEFT JOIN order_days AS d
      ON days_in(d.days, local_date(w.window_start), local_date(w.window_end)) > 0
    GROUP BY w.window_end
),
monthly_churn AS (
    SELECT
        w.window_end,
        CAST(COUNT(c.client_id) FILTER (
            WHERE COALESCE(mrr_at(c.subscription_rows, w.window_end), 0) <= 0
        ) AS DOUBLE) / NULLIF(COUNT(c.client_id), 0) AS rate
    FROM windows AS w
    LEFT JOIN client_subscriptions AS c
      ON mrr_at(c.subscription_rows, w.churn_window_start) > 0
    GROUP BY w.window_end
)
SELECT
    o.window_end,
    (o.revenue / NULLIF(o.orders, 0))
        * (CAST(o.orders AS DOUBLE) / NULLIF(k.clients, 0) / ($window_days * 12.0 / 365))
        / NULLIF(c.rate, 0) AS value,
    k.clients AS sample_size
FROM orders_in_window AS o
JOIN clients_in_window AS k ON k.window_end = o.window_end
JOIN monthly_churn AS c ON c.window_end = o.window_end
