-- id: feedback
-- version: 1
-- description: The newest comments of the window: NPS promoters (testimonials), detractors and dissatisfied CSAT answers (what to fix)
-- window: 28d
-- unit: comments
-- name: What clients say
-- section: Satisfaction
-- format: list
-- items: testimonial=Testimonials, to_fix=What to fix
-- owner: data-team
--
-- Not a number: one item per comment, up to $feedback_count of each kind,
-- newest first, with the client's name and the score. The metric's own
-- row counts the comments of both kinds in the window.
WITH comments AS (
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
        c.name AS client
    FROM survey_responses AS r
    LEFT JOIN clients AS c ON c.client_id = r.client_id
    WHERE r.responded_at >= $window_start
      AND r.responded_at < $window_end
      AND r.comment IS NOT NULL
      AND trim(r.comment) <> ''
),
ranked AS (
    SELECT
        *,
        ROW_NUMBER() OVER (PARTITION BY kind ORDER BY responded_at DESC, response_id DESC) AS rank
    FROM comments
    WHERE kind IS NOT NULL
)
SELECT
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
    NULL AS item,
    NULL AS value,
    NULL AS survey,
    NULL AS client,
    NULL AS comment,
    NULL AS responded_at,
    COUNT(*) AS sample_size
FROM ranked
ORDER BY item NULLS FIRST, responded_at DESC
