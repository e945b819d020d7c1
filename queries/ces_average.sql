-- id: ces_average
-- version: 1
-- description: Mean CES score in the window (1-7, higher is easier)
-- window: 28d
-- unit: points
-- name: CES average score
-- section: Satisfaction
-- format: points
-- drivers: weighted_mean
-- owner: data-team
SELECT
    AVG(CAST(score AS DOUBLE)) AS value,
    COUNT(*) AS sample_size
FROM survey_responses
WHERE survey = 'ces'
  AND responded_at >= $window_start
  AND responded_at < $window_end
