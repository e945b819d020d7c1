-- Version 2 of shared/at_risk.sql: the same signals, with usage_drop
-- counted from client_uses (each client's events per day, computed once
-- for the run) instead of the window's raw events.
--
-- Shared CTEs: the risk signals of each client paying at the window's end
-- (uses client_mrr, and the shared table client_uses for the usage counts),
-- and the signals of the clients whose signals weigh at
-- least $at_risk_min_score (`at_risk_signals`, one row per signal). Each signal's weight is $<signal>_weight and its
-- threshold $<signal>_threshold, both from the config's `at_risk`
-- section; a weight of 0 turns a signal off.
--
-- usage_drop       usage events in the window fell by more than the
--                  threshold share against the window before it
-- detractor        an NPS answer of 0-6 in the window
-- unhappy_csat     a CSAT answer in the window that is not satisfied
-- old_ticket       a ticket open at the window's end, opened more than
--                  threshold days before it
-- overdue_project  a project due before the window's end, not completed
--                  by then
-- late_onboarding  an onboarding whose deadline passed before the
--                  window's end, not completed by then
-- contraction      MRR lower at the window's end than at its start
-- renewal_soon     a subscription active at the window's end that ends
--                  within threshold days of it, with no later row of the
--                  client starting by then
risk_paying AS (
    SELECT client_id, mrr
    FROM mrr_at_end
    WHERE mrr > 0
),
risk_usage AS (
    SELECT
        client_id,
        tally_in(uses, local_date($window_start), local_date($window_end)) AS uses_now,
        tally_in(uses, local_date($previous_window_start), local_date($window_start)) AS uses_before
    FROM client_uses
),
risk_open_tickets AS (
    SELECT
        client_id,
        COUNT(*) AS tickets,
        MIN(opened_at) AS oldest
    FROM tickets
    WHERE opened_at < $window_end
      AND (resolved_at IS NULL OR resolved_at >= $window_end)
      AND opened_at < add_days($window_end, -CAST($old_ticket_threshold AS BIGINT))
    GROUP BY client_id
),
risk_late_onboarding AS (
    SELECT
        client_id,
        add_days(started_at, COALESCE(target_days, $onboarding_target_days)) AS deadline
    FROM onboarding
    WHERE started_at < $window_end
      AND (completed_at IS NULL OR completed_at >= $window_end)
),
risk_renewals AS (
    SELECT r.client_id, MIN(r.ended_at) AS ends
    FROM row_mrr AS r
    LEFT JOIN row_mrr AS later
        ON later.client_id = r.client_id
       AND later.started_at >= r.ended_at
       AND later.started_at <= add_days($window_end, CAST($renewal_soon_threshold AS BIGINT))
    WHERE r.mrr > 0
      AND r.started_at <= $window_end
      AND r.ended_at > $window_end
      AND r.ended_at <= add_days($window_end, CAST($renewal_soon_threshold AS BIGINT))
      AND later.client_id IS NULL
    GROUP BY r.client_id
),
-- One row per (client, signal), with the detail a reader acts on.
risk_signals AS (
    SELECT
        client_id,
        'usage_drop' AS signal,
        CAST(uses_now AS VARCHAR) || ' uses in the window, '
            || CAST(uses_before AS VARCHAR) || ' in the window before' AS detail
    FROM risk_usage
    WHERE uses_before > 0
      AND CAST(uses_now AS DOUBLE) < CAST(uses_before AS DOUBLE) * (1 - CAST($usage_drop_threshold AS DOUBLE))
    UNION ALL
    SELECT
        client_id,
        'detractor' AS signal,
        CASE WHEN COUNT(*) = 1 THEN 'NPS answer ' || CAST(MIN(score) AS VARCHAR)
             ELSE CAST(COUNT(*) AS VARCHAR) || ' NPS answers of 0-6, the lowest '
                 || CAST(MIN(score) AS VARCHAR)
        END AS detail
    FROM survey_responses
    WHERE survey = 'nps'
      AND score <= 6
      AND responded_at >= $window_start
      AND responded_at < $window_end
    GROUP BY client_id
    UNION ALL
    SELECT
        client_id,
        'unhappy_csat' AS signal,
        CASE WHEN COUNT(*) = 1 THEN 'CSAT answer ' || CAST(MIN(score) AS VARCHAR)
                 || ' of ' || CAST(MAX(scale_max) AS VARCHAR)
             ELSE CAST(COUNT(*) AS VARCHAR) || ' dissatisfied CSAT answers'
        END AS detail
    FROM survey_responses
    WHERE survey = 'csat'
      AND NOT csat_satisfied(score, scale_max)
      AND responded_at >= $window_start
      AND responded_at < $window_end
    GROUP BY client_id
    UNION ALL
    SELECT
        client_id,
        'old_ticket' AS signal,
        CAST(tickets AS VARCHAR)
            || CASE WHEN tickets = 1 THEN ' ticket' ELSE ' tickets' END
            || ' open, the oldest for '
            || CAST(CAST(floor((to_unixtime($window_end) - to_unixtime(oldest)) / 86400) AS BIGINT) AS VARCHAR)
            || ' days' AS detail
    FROM risk_open_tickets
    UNION ALL
    SELECT
        client_id,
        'overdue_project' AS signal,
        CASE WHEN COUNT(*) = 1 THEN 'project ' || MIN(name) || ' overdue by '
                 || CAST(CAST(floor((to_unixtime($window_end) - to_unixtime(MIN(due_at))) / 86400) AS BIGINT) AS VARCHAR)
                 || ' days'
             ELSE CAST(COUNT(*) AS VARCHAR) || ' projects overdue'
        END AS detail
    FROM projects
    WHERE due_at < $window_end
      AND (completed_at IS NULL OR completed_at >= $window_end)
    GROUP BY client_id
    UNION ALL
    SELECT
        client_id,
        'late_onboarding' AS signal,
        'onboarding '
            || CAST(CAST(floor((to_unixtime($window_end) - to_unixtime(MIN(deadline))) / 86400) AS BIGINT) AS VARCHAR)
            || ' days past its deadline' AS detail
    FROM risk_late_onboarding
    WHERE deadline < $window_end
    GROUP BY client_id
    UNION ALL
    SELECT
        s.client_id,
        'contraction' AS signal,
        'MRR '
            || CAST(CAST(round(100 * (1 - CAST(e.mrr AS DOUBLE) / CAST(s.mrr AS DOUBLE))) AS BIGINT) AS VARCHAR)
            || ' % lower than at the window''s start' AS detail
    FROM mrr_at_start AS s
    JOIN mrr_at_end AS e ON e.client_id = s.client_id
    WHERE e.mrr > 0
      AND e.mrr < s.mrr
    UNION ALL
    SELECT
        client_id,
        'renewal_soon' AS signal,
        'subscription ends in '
            || CAST(CAST(ceil((to_unixtime(ends) - to_unixtime($window_end)) / 86400) AS BIGINT) AS VARCHAR)
            || ' days' AS detail
    FROM risk_renewals
),
-- Each signal of a paying client with its weight and the client's MRR;
-- signals weighing 0 are off.
risk_weighted AS (
    SELECT
        s.client_id,
        s.signal,
        s.detail,
        p.mrr,
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
    FROM risk_signals AS s
    JOIN risk_paying AS p ON p.client_id = s.client_id
),
-- The signals of the clients at risk, each row with its client's score.
at_risk_signals AS (
    SELECT *
    FROM (
        SELECT
            client_id,
            signal,
            detail,
            mrr,
            weight,
            SUM(weight) OVER (PARTITION BY client_id) AS score
        FROM risk_weighted
        WHERE weight > 0
    ) AS scored
    WHERE score >= CAST($at_risk_min_score AS DOUBLE)
)
