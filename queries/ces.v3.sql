-- id: ces
-- version: 3
-- description: Customer Effort Score: share of 7-point CES answers scoring 5-7 (easy)
-- window: 28d
-- unit: fraction
-- name: Customer effort (CES)
-- section: Satisfaction
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
-- windows: table
--
-- Version 3 gives the figures of version 2 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`).
-- A window without answers keeps its row (the LEFT JOIN); only matched
-- answers are counted (s.responded_at set).
--
-- Version 2 also returns the 95 % margin of error of the share
-- (1.96 * sqrt(p (1 - p) / n)), so the report greys a week-on-week move
-- within it.
WITH answers AS (
    SELECT
        w.window_end,
        CAST(COUNT(s.responded_at) FILTER (WHERE s.score >= 5) AS DOUBLE) AS satisfied,
        COUNT(s.responded_at) AS n
    FROM windows AS w
    LEFT JOIN survey_responses AS s
      ON s.survey = 'ces'
     AND s.responded_at >= w.window_start
     AND s.responded_at < w.window_end
     AND s.responded_at >= $run_start
     AND s.responded_at < $run_end
    GROUP BY w.window_end
)
SELECT
    window_end,
    satisfied / NULLIF(n, 0) AS value,
    n AS sample_size,
    1.96 * SQRT((satisfied / NULLIF(n, 0)) * (1 - satisfied / NULLIF(n, 0)) / NULLIF(n, 0)) AS margin
FROM answers
