-- id: new_clients
-- version: 2
-- description: Clients whose first instant of paying is in the window (a, b]
-- window: 30d
-- unit: count
-- name: New clients
-- section: Clients
-- format: count
-- drivers: sum
-- owner: data-team
-- windows: table
-- uses: client_mrr
--
-- Version 2 gives the figures of version 1 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`).
-- A window without new clients keeps its row (the LEFT JOIN).
WITH first_paid AS (
    SELECT client_id, MIN(started_at) AS first_at
    FROM row_mrr
    WHERE mrr > 0 AND (ended_at IS NULL OR ended_at > started_at)
    GROUP BY client_id
)
SELECT
    w.window_end,
    COUNT(f.first_at) AS value,
    COUNT(f.first_at) AS sample_size
FROM windows AS w
LEFT JOIN first_paid AS f
  ON f.first_at > w.window_start
 AND f.first_at <= w.window_end
GROUP BY w.window_end
