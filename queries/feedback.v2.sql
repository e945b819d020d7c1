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
-- Version 2 gives the figures of version 1 for every week a run needs in
-- one query over the table `windows`: each window's comments ranked apart
-- (PARTITION BY window_end), and a row per window (`window_end`) that
-- counts them, 0 for a window without any (the LEFT JOIN).
--
-- Not a number: one item per comment, up to $feedback_count of each kind,
-- newest first, with the client's name and the score. The metric's own
-- row counts the comments of both kinds in the window.
WITH comments AS (
    SELECT
        w.window_end,
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
        c.name AS client
    FROM windows AS w
    JOIN survey_responses AS r
      ON r.responded_at >= w.window_start
     AND r.responded_at < w.window_end
    LEFT JOIN clients AS c ON c.client_id = r.client_id
    WHERE r.responded_at >= $run_start
      AND r.responded_at < $run_end
      AND r.comment IS NOT NULL
      AND trim(r.comment) <> ''
),
ranked AS (
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY window_end, kind
            ORDER BY responded_at DESC, response_id DESC
        ) AS rank
    FROM comments
    WHERE kind IS NOT NULL
)
SELECT
    window_end,
    kind AS item,
    CAST(score AS DOUBLE) AS value,
    survey,
    client,
    comment,
    CAST(responded_at AS VARCHAR) AS responded_at,
    CAST(NULL AS BIGINT) AS sample_size
FROM ranked
WHERE rank <= $feedback_count
UNION ALL
SELECT
    w.window_end,
    NULL AS item,
    NULL AS value,
    NULL AS survey,
    NULL AS client,
    NULL AS comment,
    NULL AS responded_at,
    COUNT(r.response_id) AS sample_size
FROM windows AS w
LEFT JOIN ranked AS r ON r.window_end = w.window_end
GROUP BY w.window_end
ORDER BY window_end, item NULLS FIRST, responded_at DESC
