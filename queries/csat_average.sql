-- id: csat_average
-- version: 1
-- description: Mean score of the 5-point CSAT answers in the window
-- window: 28d
-- unit: points
-- name: CSAT average score
-- section: Satisfaction
-- format: points
-- drivers: weighted_mean
-- owner: data-team
SELECT
    AVG(CAST(score AS DOUBLE)) AS value,
    COUNT(*) AS sample_size
FROM survey_responses
WHERE survey = 'csat'
  AND scale_max = 5
  AND responded_at >= $window_start
  AND responded_at < $window_end
