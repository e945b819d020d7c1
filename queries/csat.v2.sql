-- id: csat
-- version: 2
-- description: Share of satisfied CSAT answers in the window (every answer counts)
-- window: 28d
-- unit: fraction
-- name: Customer satisfaction (CSAT)
-- section: Satisfaction
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
--
-- Satisfied: 4-5 of 5, 6-7 of 7, 7-10 of 10 (the csat_satisfied UDF).
--
-- Version 2 also returns the 95 % margin of error of the share
-- (1.96 * sqrt(p (1 - p) / n)), so the report greys a week-on-week move
-- within it.
WITH answers AS (
    SELECT
        CAST(COUNT(*) FILTER (WHERE csat_satisfied(score, scale_max)) AS DOUBLE) AS satisfied,
        COUNT(*) AS n
    FROM survey_responses
    WHERE survey = 'csat'
      AND responded_at >= $window_start
      AND responded_at < $window_end
)
SELECT
    satisfied / NULLIF(n, 0) AS value,
    n AS sample_size,
    1.96 * SQRT((satisfied / NULLIF(n, 0)) * (1 - satisfied / NULLIF(n, 0)) / NULLIF(n, 0)) AS margin
FROM answers
