-- id: csat
-- version: 3
-- description: Share of satisfied CSAT answers in the window (every answer counts)
-- window: 28d
-- unit: fraction
-- name: Customer satisfaction (CSAT)
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
-- Satisfied: 4-5 of 5, 6-7 of 7, 7-10 of 10 (the csat_satisfied UDF).
-- Version 2 also returns the 95 % margin of error of the share
-- (1.96 * sqrt(p (1 - p) / n)), so the report greys a week-on-week move
-- within it.
WITH answers AS (
    SELECT
        w.window_end,
        CAST(COUNT(s.responded_at) FILTER (WHERE csat_satisfied(s.score, s.scale_max)) AS DOUBLE) AS satisfied,
        COUNT(s.responded_at) AS n
    FROM windows AS w
    LEFT JOIN survey_responses AS s
      ON s.survey = 'csat'
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
