-- Shared CTEs for a query over the table `windows` (`-- windows: table`):
-- what paid_before_start and client_movements of client_mrr give for one
-- window, for every window at once, each row keyed by its window
-- (`window_end`). Uses row_mrr (client_mrr) and the MRR at each window's
-- ends (client_mrr_by_window), so a query lists both before it.
--
-- Clients that paid at some instant before each window's start: a row
-- with positive MRR that started before it and lasted a moment.
paid_before_window_start AS (
    SELECT DISTINCT w.window_end, r.client_id
    FROM windows AS w
    JOIN row_mrr AS r ON r.started_at < w.window_start
    WHERE r.mrr > 0
      AND (r.ended_at IS NULL OR r.ended_at > r.started_at)
),
-- Every client with a row active at either end of a window: MRR at both
-- ends (0 when nothing is active) and whether it had paid before.
client_movements_by_window AS (
    SELECT
        c.window_end,
        c.client_id,
        COALESCE(s.mrr, 0) AS mrr_a,
        COALESCE(e.mrr, 0) AS mrr_b,
        p.client_id IS NOT NULL AS paid_before
    FROM (
        SELECT window_end, client_id FROM mrr_at_window_start
        UNION
        SELECT window_end, client_id FROM mrr_at_window_end
    ) AS c
    LEFT JOIN mrr_at_window_start AS s
        ON s.window_end = c.window_end AND s.client_id = c.client_id
    LEFT JOIN mrr_at_window_end AS e
        ON e.window_end = c.window_end AND e.client_id = c.client_id
    LEFT JOIN paid_before_window_start AS p
        ON p.window_end = c.window_end AND p.client_id = c.client_id
)
