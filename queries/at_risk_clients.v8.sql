-- id: at_risk_clients
-- version: 8
-- description: Paying clients whose risk signals weigh at least the config's at_risk.min_score, each with its signals
-- window: 28d
-- unit: count
-- name: Clients at risk
-- section: Clients
-- format: count
-- drivers: sum
-- items: usage_drop=Usage dropped, detractor=Detractor, unhappy_csat=Unhappy CSAT, old_ticket=Old ticket, overdue_project=Overdue project, late_onboarding=Late onboarding, contraction=Contraction, renewal_soon=Renewal soon
-- owner: data-team
-- windows: table
-- uses: client_mrr, client_subscriptions, client_mrr_windows, client_uses, client_tickets, risk_answers, at_risk_by_window_v3, at_risk_signals
--
-- Version 8 gives the figures and items of version 7, with the items'
-- text copied into columns of their own (arrow_cast to Utf8) before they
-- are sorted. The signal rows' strings were views into the buffers of the
-- batches they came from (the held at_risk_signals, the clients' Parquet
-- pages), and DataFusion counts every buffer a batch points into: at demo
-- scale 1600 the report week's 105 k items (23 MB as JSON) counted as
-- 57 MB in the final sort, and under `memory_limit: 136MiB` the run
-- stopped here even alone and on one partition. Version 8 runs there, and
-- under 128MiB.
--
-- Version 7 gives the figures and items of version 6 from the run's
-- shared table at_risk_signals (shared/at_risk_signals.sql), computed once
-- per run for every week of the trend, where version 6 scored every
-- signal in each of its queries (the trend, each segment, each book) and
-- planned the signals three times in each: the count from its distinct
-- clients in each window, the items from the report's own
-- week's rows.
--
-- Version 6 gives the figures and items of version 5 from
-- shared/at_risk_by_window_v3: the old-ticket signal reads each client's
-- tickets from one row of the shared table client_tickets instead of
-- joining every ticket to every window, and the survey signals read the
-- answers they look for from the shared table risk_answers instead of
-- filtering all of survey_responses six times.
--
-- Version 5 gives the figures and items of version 4 from
-- shared/at_risk_by_window_v2: the count from one narrow row per client at
-- risk and window (at_risk_scores_by_window, a grouped sum), the items
-- from the report's own week's signals alone (at_risk_signals_of_week).
-- Version 4 scored every signal row of every window with a window
-- function, then read them twice (counts and items): at demo scale 1600
-- under a 1 GiB memory_limit its sort asked for more than its share of
-- the pool and the run stopped (exit 1); version 5 runs there.
--
-- The figure is the number of clients at risk out of the paying clients.
-- One item per (client, signal): the signal's kind, the client, its
-- account manager, its MRR, its score and what the signal saw; the
-- riskiest clients first (score, then MRR), each client's signals by
-- weight.
WITH counts AS (
    SELECT w.window_end, CAST(COUNT(DISTINCT a.client_id) AS DOUBLE) AS value
    FROM windows AS w
    LEFT JOIN at_risk_signals AS a ON a.window_end = w.window_end
    GROUP BY w.window_end
),
paying AS (
    SELECT w.window_end, COUNT(p.client_id) AS sample_size
    FROM windows AS w
    LEFT JOIN risk_paying_by_window AS p ON p.window_end = w.window_end
    GROUP BY w.window_end
)
SELECT
    c.window_end,
    NULL AS item,
    NULL AS client_id,
    NULL AS client,
    NULL AS account_manager,
    NULL AS detail,
    c.value,
    p.sample_size,
    CAST(NULL AS DOUBLE) AS mrr,
    CAST(NULL AS DOUBLE) AS score,
    CAST(NULL AS DOUBLE) AS weight
FROM counts AS c
JOIN paying AS p ON p.window_end = c.window_end
UNION ALL
SELECT
    a.window_end,
    arrow_cast(a.signal, 'Utf8') AS item,
    arrow_cast(a.client_id, 'Utf8') AS client_id,
    arrow_cast(k.name, 'Utf8') AS client,
    arrow_cast(k.account_manager, 'Utf8') AS account_manager,
    arrow_cast(a.detail, 'Utf8') AS detail,
    NULL AS value,
    NULL AS sample_size,
    CAST(a.mrr AS DOUBLE) AS mrr,
    a.score,
    a.weight
FROM at_risk_signals AS a
LEFT JOIN clients AS k ON k.client_id = a.client_id
WHERE a.window_end = $window_end
ORDER BY window_end, score DESC NULLS FIRST, mrr DESC, client_id, weight DESC, item
