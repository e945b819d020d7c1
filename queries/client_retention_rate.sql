-- id: client_retention_rate
-- version: 1
-- description: (E - N) / S: clients paying at the end, less those that (re)started in the window, over those paying at the start
-- window: 30d
-- unit: fraction
-- name: Client retention rate
-- section: Clients
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
-- uses: client_mrr
WITH started_in_window AS (
    -- N: not paying at the start, started a paying row at an instant in
    -- (a, b], whether or not still paying at the end.
    SELECT DISTINCT r.client_id
    FROM row_mrr AS r
    LEFT JOIN mrr_at_start AS s ON s.client_id = r.client_id
    WHERE r.mrr > 0
      AND r.started_at > $window_start AND r.started_at <= $window_end
      AND (s.mrr IS NULL OR s.mrr <= 0)
)
SELECT
    CAST((SELECT COUNT(*) FROM mrr_at_end WHERE mrr > 0)
         - (SELECT COUNT(*) FROM started_in_window) AS DOUBLE)
        / NULLIF((SELECT COUNT(*) FROM mrr_at_start WHERE mrr > 0), 0) AS value,
    (SELECT COUNT(*) FROM mrr_at_start WHERE mrr > 0) AS sample_size
