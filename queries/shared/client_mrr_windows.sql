-- Shared CTEs for a query over the table `windows` (`-- windows: table`),
-- read from the shared table client_subscriptions (so a query lists it
-- before this file): what client_mrr_by_window and
-- client_movements_by_window give, under the same names and columns, for
-- every window at once. Each client's MRR at a window's start and end is
-- mrr_at() of its one row, exactly the SUM over its rows active then
-- (metrics.md), NULL when none is; `started_paying`: a row with positive
-- MRR started in the window (a, b]. A query reads only the columns it
-- needs, and only those are computed.
client_mrr_at_window_ends AS (
    SELECT
        w.window_end,
        c.client_id,
        mrr_at(c.subscription_rows, w.window_start) AS mrr_a,
        mrr_at(c.subscription_rows, w.window_end) AS mrr_b,
        paid_before(c.subscription_rows, w.window_start) AS paid_before,
        started_paying_in(c.subscription_rows, w.window_start, w.window_end) AS started_paying
    FROM windows AS w
    CROSS JOIN client_subscriptions AS c
),
mrr_at_window_start AS (
    SELECT window_end, client_id, mrr_a AS mrr
    FROM client_mrr_at_window_ends
    WHERE mrr_a IS NOT NULL
),
mrr_at_window_end AS (
    SELECT window_end, client_id, mrr_b AS mrr
    FROM client_mrr_at_window_ends
    WHERE mrr_b IS NOT NULL
),
-- Every client with a row active at either end of a window: MRR at both
-- ends (0 when nothing is active) and whether it had paid before.
client_movements_by_window AS (
    SELECT
        window_end,
        client_id,
        COALESCE(mrr_a, 0) AS mrr_a,
        COALESCE(mrr_b, 0) AS mrr_b,
        paid_before
    FROM client_mrr_at_window_ends
    WHERE mrr_a IS NOT NULL OR mrr_b IS NOT NULL
)
