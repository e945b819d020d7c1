-- Shared CTEs for a query over the table `windows` (`-- windows: table`):
-- each client's MRR at each window's start and end, one row per
-- (window_end, client_id) with a row active then: what mrr_at_start and
-- mrr_at_end of client_mrr give for one window (metrics.md). Uses row_mrr,
-- so a query lists client_mrr before it.
mrr_at_window_start AS (
    SELECT w.window_end, r.client_id, SUM(r.mrr) AS mrr
    FROM windows AS w
    JOIN row_mrr AS r
      ON r.started_at <= w.window_start
     AND (r.ended_at IS NULL OR r.ended_at > w.window_start)
    GROUP BY w.window_end, r.client_id
),
mrr_at_window_end AS (
    SELECT w.window_end, r.client_id, SUM(r.mrr) AS mrr
    FROM windows AS w
    JOIN row_mrr AS r
      ON r.started_at <= w.window_end
     AND (r.ended_at IS NULL OR r.ended_at > w.window_end)
    GROUP BY w.window_end, r.client_id
)
