-- id: ces
-- version: 2
-- description: Customer Effort Score: share of 7-point CES answers scoring 5-7 (easy)
-- window: 28d
-- unit: fraction
-- name: Customer effort (CES)
-- section: Satisfaction
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
--
-- Version 2 also returns the 95 % margin of error of the share
-- (1.96 * sqrt(p (1 - p) / n)), so the report greys a week-on-week move
-- within it.
WITH answers AS (
    SELECT
        CAST(COUNT(*) FILTER (WHERE score >= 5) AS DOUBLE) AS satisfied,
        COUNT(*) AS n
    FROM survey_responses
    WHERE survey = 'ces'
      AND responded_at >= $window_start
      AND responded_at < $window_end
)
SELECT
    satisfied / NULLIF(n, 0) AS value,
    n AS sample_size,
    1.96 * SQRT((satisfied / NULLIF(n, 0)) * (1 - satisfied / NULLIF(n, 0)) / NULLIF(n, 0)) AS margin
FROM answers
