-- Shared CTEs for a query over the table `windows` (`-- windows: table`):
-- the risk signals of shared/at_risk_by_window_v2, with the same
-- figures, scores and items, and the same shapes (see its comments):
-- at_risk_scores_by_window, one narrow row per (window, client at risk);
-- at_risk_signals_of_week, the signals of the report's own week.
--
-- What changed from v2, where the time of an at-risk query went at demo
-- scale 1600:
-- - the old-ticket signal reads each client's tickets from one row of
--   the shared table client_tickets (open_tickets_at and oldest_open_at
--   at each window's end), where v2 joined every ticket to every window
--   (a nested-loop join of 3.6 M tickets and 13 windows);
-- - the detractor and unhappy_csat signals read the shared table
--   risk_answers (only the answers they look for), where v2 filtered all
--   of survey_responses (4.6 M rows) for each: six scans per query, since
--   a query scores the signals in three places.
--
-- Uses client_mrr, client_mrr_windows and the shared tables client_uses,
-- client_tickets and risk_answers, so a query lists them before it.
risk_paying_by_window AS (
    SELECT window_end, client_id, mrr
    FROM mrr_at_window_end
    WHERE mrr > 0
),
risk_usage_by_window AS (
    SELECT
        w.window_end,
        u.client_id,
        tally_in(u.uses, local_date(w.window_start), local_date(w.window_end)) AS uses_now,
        tally_in(u.uses, local_date(w.previous_window_start), local_date(w.window_start)) AS uses_before
    FROM windows AS w
    CROSS JOIN client_uses AS u
),
risk_open_tickets_by_window AS (
    SELECT window_end, client_id, tickets, oldest
    FROM (
        SELECT
            w.window_end,
            t.client_id,
            open_tickets_at(t.spans, w.window_end, add_days(w.window_end, -CAST($old_ticket_threshold AS BIGINT))) AS tickets,
            oldest_open_at(t.spans, w.window_end, add_days(w.window_end, -CAST($old_ticket_threshold AS BIGINT))) AS oldest
        FROM windows AS w
        CROSS JOIN client_tickets AS t
    ) AS open_at_window_end
    WHERE tickets > 0
),
risk_late_onboarding_by_window AS (
    SELECT
        w.window_end,
        o.client_id,
        add_days(o.started_at, COALESCE(o.target_days, $onboarding_target_days)) AS deadline
    FROM windows AS w
    JOIN onboarding AS o
      ON o.started_at < w.window_end
     AND (o.completed_at IS NULL OR o.completed_at >= w.window_end)
),
risk_renewals_by_window AS (
    SELECT w.window_end, r.client_id, MIN(r.ended_at) AS ends
    FROM windows AS w
    JOIN row_mrr AS r
      ON r.started_at <= w.window_end
     AND r.ended_at > w.window_end
     AND r.ended_at <= add_days(w.window_end, CAST($renewal_soon_threshold AS BIGINT))
    LEFT JOIN row_mrr AS later
        ON later.client_id = r.client_id
       AND later.started_at >= r.ended_at
       AND later.started_at <= add_days(w.window_end, CAST($renewal_soon_threshold AS BIGINT))
    WHERE r.mrr > 0
      AND later.client_id IS NULL
    GROUP BY w.window_end, r.client_id
),
-- One row per (window, client, signal), with the detail a reader acts on.
risk_signals_by_window AS (
    SELECT
        window_end,
        client_id,
        'usage_drop' AS signal,
        CAST(uses_now AS VARCHAR) || ' uses in the window, '
            || CAST(uses_before AS VARCHAR) || ' in the window before' AS detail
    FROM risk_usage_by_window
    WHERE uses_before > 0
      AND CAST(uses_now AS DOUBLE) < CAST(uses_before AS DOUBLE) * (1 - CAST($usage_drop_threshold AS DOUBLE))
    UNION ALL
    SELECT
        w.window_end,
        s.client_id,
        'detractor' AS signal,
        CASE WHEN COUNT(*) = 1 THEN 'NPS answer ' || CAST(MIN(s.score) AS VARCHAR)
             ELSE CAST(COUNT(*) AS VARCHAR) || ' NPS answers of 0-6, the lowest '
                 || CAST(MIN(s.score) AS VARCHAR)
        END AS detail
    FROM windows AS w
    JOIN risk_answers AS s
      ON s.responded_at >= w.window_start
     AND s.responded_at < w.window_end
    WHERE s.survey = 'nps'
      AND s.score <= 6
      AND s.responded_at >= $run_start
      AND s.responded_at < $run_end
    GROUP BY w.window_end, s.client_id
    UNION ALL
    SELECT
        w.window_end,
        s.client_id,
        'unhappy_csat' AS signal,
        CASE WHEN COUNT(*) = 1 THEN 'CSAT answer ' || CAST(MIN(s.score) AS VARCHAR)
                 || ' of ' || CAST(MAX(s.scale_max) AS VARCHAR)
             ELSE CAST(COUNT(*) AS VARCHAR) || ' dissatisfied CSAT answers'
        END AS detail
    FROM windows AS w
    JOIN risk_answers AS s
      ON s.responded_at >= w.window_start
     AND s.responded_at < w.window_end
    WHERE s.survey = 'csat'
      AND NOT csat_satisfied(s.score, s.scale_max)
      AND s.responded_at >= $run_start
      AND s.responded_at < $run_end
    GROUP BY w.window_end, s.client_id
    UNION ALL
    SELECT
        window_end,
        client_id,
        'old_ticket' AS signal,
        CAST(tickets AS VARCHAR)
            || CASE WHEN tickets = 1 THEN ' ticket' ELSE ' tickets' END
            || ' open, the oldest for '
            || CAST(CAST(floor((to_unixtime(window_end) - to_unixtime(oldest)) / 86400) AS BIGINT) AS VARCHAR)
            || ' days' AS detail
    FROM risk_open_tickets_by_window
    UNION ALL
    SELECT
        w.window_end,
        p.client_id,
        'overdue_project' AS signal,
        CASE WHEN COUNT(*) = 1 THEN 'project ' || MIN(p.name) || ' overdue by '
                 || CAST(CAST(floor((to_unixtime(w.window_end) - to_unixtime(MIN(p.due_at))) / 86400) AS BIGINT) AS VARCHAR)
                 || ' days'
             ELSE CAST(COUNT(*) AS VARCHAR) || ' projects overdue'
        END AS detail
    FROM windows AS w
    JOIN projects AS p
      ON p.due_at < w.window_end
     AND (p.completed_at IS NULL OR p.completed_at >= w.window_end)
    GROUP BY w.window_end, p.client_id
    UNION ALL
    SELECT
        window_end,
        client_id,
        'late_onboarding' AS signal,
        'onboarding '
            || CAST(CAST(floor((to_unixtime(window_end) - to_unixtime(MIN(deadline))) / 86400) AS BIGINT) AS VARCHAR)
            || ' days past its deadline' AS detail
    FROM risk_late_onboarding_by_window
    WHERE deadline < window_end
    GROUP BY window_end, client_id
    UNION ALL
    SELECT
        window_end,
        client_id,
        'contraction' AS signal,
        'MRR '
            || CAST(CAST(round(100 * (1 - CAST(mrr_b AS DOUBLE) / CAST(mrr_a AS DOUBLE))) AS BIGINT) AS VARCHAR)
            || ' % lower than at the window''s start' AS detail
    FROM client_mrr_at_window_ends
    WHERE mrr_b > 0
      AND mrr_b < mrr_a
    UNION ALL
    SELECT
        window_end,
        client_id,
        'renewal_soon' AS signal,
        'subscription ends in '
            || CAST(CAST(ceil((to_unixtime(ends) - to_unixtime(window_end)) / 86400) AS BIGINT) AS VARCHAR)
            || ' days' AS detail
    FROM risk_renewals_by_window
),
-- Each signal of a client paying at its window's end, with its weight and
-- the client's MRR; signals weighing 0 are off. Who pays is mrr_at() of
-- the client's one row of client_subscriptions: the join holds that table
-- (a row per client), not a row per window and client.
risk_weighted_by_window AS (
    SELECT
        s.window_end,
        s.client_id,
        s.signal,
        s.detail,
        mrr_at(c.subscription_rows, s.window_end) AS mrr,
        CASE s.signal
            WHEN 'usage_drop' THEN CAST($usage_drop_weight AS DOUBLE)
            WHEN 'detractor' THEN CAST($detractor_weight AS DOUBLE)
            WHEN 'unhappy_csat' THEN CAST($unhappy_csat_weight AS DOUBLE)
            WHEN 'old_ticket' THEN CAST($old_ticket_weight AS DOUBLE)
            WHEN 'overdue_project' THEN CAST($overdue_project_weight AS DOUBLE)
            WHEN 'late_onboarding' THEN CAST($late_onboarding_weight AS DOUBLE)
            WHEN 'contraction' THEN CAST($contraction_weight AS DOUBLE)
            WHEN 'renewal_soon' THEN CAST($renewal_soon_weight AS DOUBLE)
        END AS weight
    FROM client_subscriptions AS c
    JOIN risk_signals_by_window AS s ON s.client_id = c.client_id
    WHERE mrr_at(c.subscription_rows, s.window_end) > 0
),
-- Each client at risk at each window's end: one row with its score (the
-- weight of its signals) and its MRR. Narrow rows, summed by a grouped
-- aggregation (which spills), for every window.
at_risk_scores_by_window AS (
    SELECT window_end, client_id, MAX(mrr) AS mrr, SUM(weight) AS score
    FROM risk_weighted_by_window
    WHERE weight > 0
    GROUP BY window_end, client_id
    HAVING SUM(weight) >= CAST($at_risk_min_score AS DOUBLE)
),
-- The signals of the clients at risk at the report's own week's end
-- ($window_end, the only week whose items are shown), each with what it
-- saw and its client's score and MRR.
at_risk_signals_of_week AS (
    SELECT a.window_end, s.client_id, s.signal, s.detail, a.mrr, s.weight, a.score
    FROM at_risk_scores_by_window AS a
    JOIN risk_weighted_by_window AS s
      ON s.window_end = a.window_end
     AND s.client_id = a.client_id
    WHERE a.window_end = $window_end
      AND s.window_end = $window_end
      AND s.weight > 0
)
