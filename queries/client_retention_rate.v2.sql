-- id: client_retention_rate
-- version: 2
-- description: (E - N) / S: clients paying at the end, less those that (re)started in the window, over those paying at the start
-- window: 30d
-- unit: fraction
-- name: Client retention rate
-- section: Clients
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
-- windows: table
-- uses: client_mrr, client_mrr_by_window
--
-- Version 2 gives the figures of version 1 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`):
-- E, N and S are each counted per window, 0 where a window has none.
WITH started_in_window AS (
    -- N: not paying at the start, started a paying row at an instant in
    -- (a, b], whether or not still paying at the end.
    SELECT DISTINCT w.window_end, r.client_id
    FROM windows AS w
    JOIN row_mrr AS r
      ON r.started_at > w.window_start
     AND r.started_at <= w.window_end
    LEFT JOIN mrr_at_window_start AS s
      ON s.window_end = w.window_end
     AND s.client_id = r.client_id
    WHERE r.mrr > 0
      AND (s.mrr IS NULL OR s.mrr <= 0)
),
paying_at_end AS (
    SELECT w.window_end, COUNT(e.client_id) AS clients
    FROM windows AS w
    LEFT JOIN mrr_at_window_end AS e
      ON e.window_end = w.window_end
     AND e.mrr > 0
    GROUP BY w.window_end
),
paying_at_start AS (
    SELECT w.window_end, COUNT(s.client_id) AS clients
    FROM windows AS w
    LEFT JOIN mrr_at_window_start AS s
      ON s.window_end = w.window_end
     AND s.mrr > 0
    GROUP BY w.window_end
),
started AS (
    SELECT w.window_end, COUNT(n.client_id) AS clients
    FROM windows AS w
    LEFT JOIN started_in_window AS n ON n.window_end = w.window_end
    GROUP BY w.window_end
)
SELECT
    e.window_end,
    CAST(e.clients - n.clients AS DOUBLE) / NULLIF(s.clients, 0) AS value,
    s.clients AS sample_size
FROM paying_at_end AS e
JOIN paying_at_start AS s ON s.window_end = e.window_end
JOIN started AS n ON n.window_end = e.window_end
