-- id: active_client_rate
-- version: 4
-- description: Of clients paying at the window's end, the share with a usage event in the window
-- window: 28d
-- unit: fraction
-- name: Active clients
-- section: Engagement
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
-- windows: table
-- uses: client_subscriptions, client_mrr_windows, client_uses
--
-- Version 4 gives the figures of version 3 from the run's shared table
-- client_subscriptions (each client's subscription rows in one value):
-- the MRR at each window's ends is mrr_at() of one row per client
-- (client_mrr_windows), not a join and a sum over the subscriptions
-- per window in every metric.
--
-- Version 3 gives the figures of version 2 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`).
-- A window without paying clients keeps its row (the LEFT JOIN).
--
-- Paying clients at the window's end with at least one usage event in
-- it, from the run's shared table of each client's events per day
-- (client_uses).
WITH active AS (
    SELECT w.window_end, u.client_id
    FROM windows AS w
    CROSS JOIN client_uses AS u
    WHERE tally_in(u.uses, local_date(w.window_start), local_date(w.window_end)) > 0
)
SELECT
    w.window_end,
    CAST(COUNT(a.client_id) AS DOUBLE) / NULLIF(COUNT(p.client_id), 0) AS value,
    COUNT(p.client_id) AS sample_size
FROM windows AS w
LEFT JOIN mrr_at_window_end AS p
  ON p.window_end = w.window_end
 AND p.mrr > 0
LEFT JOIN active AS a
  ON a.window_end = p.window_end
 AND a.client_id = p.client_id
GROUP BY w.window_end
