-- id: ces
-- version: 1
-- description: Customer Effort Score: share of 7-point CES answers scoring 5-7 (easy)
-- window: 28d
-- unit: fraction
-- name: Customer effort (CES)
-- section: Satisfaction
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
SELECT
    CAST(COUNT(*) FILTER (WHERE score >= 5) AS DOUBLE) / NULLIF(COUNT(*), 0) AS value,
    COUNT(*) AS sample_size
FROM survey_responses
WHERE survey = 'ces'
  AND responded_at >= $window_start
  AND responded_at < $window_end
