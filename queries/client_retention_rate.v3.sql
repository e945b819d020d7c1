-- id: client_retention_rate
-- version: 3
-- description: (E - N) / S: clients paying at the end, less those that (re)started in the window, over those paying at the start
-- window: 30d
-- unit: fraction
-- name: Client retention rate
-- section: Clients
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
-- windows: table
-- uses: client_subscriptions, client_mrr_windows
--
-- Version 3 gives the figures of version 2 from the run's shared table
-- client_subscriptions (each client's subscription rows in one value),
-- in one pass over a row per (window, client) of client_mrr_windows:
-- E, S and N are each a count of it, 0 where a window has none.
-- E: paying at the end. S: paying at the start. N: not paying at the
-- start, started a paying row at an instant in (a, b], whether or not
-- still paying at the end.
SELECT
    w.window_end,
    CAST(
        COUNT(m.client_id) FILTER (WHERE m.mrr_b > 0)
        - COUNT(m.client_id) FILTER (WHERE m.started_paying AND COALESCE(m.mrr_a, 0) <= 0)
        AS DOUBLE
    ) / NULLIF(COUNT(m.client_id) FILTER (WHERE m.mrr_a > 0), 0) AS value,
    COUNT(m.client_id) FILTER (WHERE m.mrr_a > 0) AS sample_size
FROM windows AS w
LEFT JOIN client_mrr_at_window_ends AS m ON m.window_end = w.window_end
GROUP BY w.window_end
