-- id: nrr
-- version: 2
-- description: Net revenue retention: MRR now of the clients paying a year ago, over their MRR then
-- window: 365d
-- unit: fraction
-- name: Net revenue retention
-- section: Revenue
-- format: percent
-- owner: data-team
-- windows: table
-- uses: client_mrr, client_mrr_by_window, client_movements_by_window
--
-- Version 2 gives the figures of version 1 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`);
-- a window without movements keeps its row (the LEFT JOIN), counting
-- only matched clients (m.client_id set).
SELECT
    w.window_end,
    SUM(mrr_b) / NULLIF(SUM(mrr_a), 0) AS value,
    COUNT(m.client_id) AS sample_size
FROM windows AS w
LEFT JOIN client_movements_by_window AS m
    ON m.window_end = w.window_end
   AND mrr_a > 0
GROUP BY w.window_end
