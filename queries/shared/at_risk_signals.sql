-- materialise: run
-- windows: table
-- Shared table: every client at risk in every window of the run's
-- trend, with its MRR and score at the window's end, and the signals
-- that put it there in the report's own week ($window_end): one row per
-- (window, client) in the other weeks (signal, detail and weight NULL),
-- one per (client, signal) in the report's week, whose items alone the
-- report lists. at_risk_clients and at_risk_mrr read it, for the week,
-- its trend, every segment and every book, where each of their queries
-- scored all the signals again (thirteen at-risk queries per run, each
-- planning the signals three times). With every week's signals it held
-- 265 MiB at demo scale 1600; with the report week's alone, a tenth.
-- Computed once per run over the windows of the trend (one window length:
-- where the two metrics are given different ones, each computes it
-- inline). Reads shared/at_risk_by_window_v3 and what it reads, so a
-- query lists them before it.
at_risk_signals AS (
    SELECT a.window_end, a.client_id, s.signal, s.detail, a.mrr, s.weight, a.score
    FROM at_risk_scores_by_window AS a
    LEFT JOIN risk_weighted_by_window AS s
      ON s.window_end = a.window_end
     AND s.client_id = a.client_id
     AND s.window_end = $window_end
     AND s.weight > 0
)
