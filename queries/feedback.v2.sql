-- id: feedback
-- version: 2
-- description: The newest comments of the window: NPS promoters (testimonials), detractors and dissatisfied CSAT answers (what to fix)
-- window: 28d
-- unit: comments
-- name: What clients say
-- section: Satisfaction
-- format: list
-- items: testimonial=Testimonials, to_fix=What to fix
-- owner: data-team
-- windows: table
--
-- Not a number: one item per comment, up to $feedback_count of each kind,
-- newest first, with the client's name and the score. The metric's own
-- row counts the comments of both kinds in the window.
--
-- Version 2 gives the figures and items of version 1 for every week a run
-- needs in one query over the table `windows`, a row per window
-- (`window_end`): the counts for every window, the comments for the
-- report's own week ($window_end) only, the week whose items a report
-- shows. A window without comments keeps its row (the LEFT JOIN) with a
-- count of 0.
WITH kinds AS (
    SELECT
        CASE
            WHEN r.survey = 'nps' AND r.score >= 9 THEN 'testimonial'
            WHEN r.survey = 'nps' AND r.score <= 6 THEN 'to_fix'
            WHEN r.survey = 'csat' AND NOT csat_satisfied(r.score, r.scale_max) THEN 'to_fix'
        END AS kind,
        r.response_id,
        r.survey,
        r.score,
        r.comment,
        r.responded_at,
        r.client_id
    FROM survey_responses AS r
    WHERE r.responded_at >= $run_start
      AND r.responded_at < $run_end
      AND r.comment IS NOT NULL
      AND trim(r.comment) <> ''
),
counts AS (
    SELECT w.window_end, COUNT(k.response_id) AS sample_size
    FROM windows AS w
    LEFT JOIN kinds AS k
      ON k.responded_at >= w.window_start
     AND k.responded_at < w.window_end
     AND k.kind IS NOT NULL
    GROUP BY w.window_end
),
ranked AS (
    SELECT
        k.*,
        c.name AS client,
        ROW_NUMBER() OVER (PARTITION BY k.kind ORDER BY k.responded_at DESC, k.response_id DESC) AS rank
    FROM kinds AS k
    LEFT JOIN clients AS c ON c.client_id = k.client_id
    WHERE k.kind IS NOT NULL
      AND k.responded_at >= $window_start
      AND k.responded_at < $window_end
)
SELECT
    w.window_end,
    r.kind AS item,
    CAST(r.score AS DOUBLE) AS value,
    r.survey,
    r.client,
    r.comment,
    CAST(r.responded_at AS VARCHAR) AS responded_at,
    CAST(NULL AS BIGINT) AS sample_size
FROM ranked AS r
JOIN windows AS w ON w.window_end = $window_end
WHERE r.rank <= $feedback_count
UNION ALL
SELECT
    window_end,
    NULL AS item,
    NULL AS value,
    NULL AS survey,
    NULL AS client,
    NULL AS comment,
    NULL AS responded_at,
    sample_size
FROM counts
ORDER BY window_end, item NULLS FIRST, responded_at DESC
