-- id: csat
-- version: 1
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
SELECT
    CAST(COUNT(*) FILTER (WHERE csat_satisfied(score, scale_max)) AS DOUBLE)
        / NULLIF(COUNT(*), 0) AS value,
    COUNT(*) AS sample_size
FROM survey_responses
WHERE survey = 'csat'
  AND responded_at >= $window_start
  AND responded_at < $window_end
