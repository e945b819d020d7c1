-- id: csat
-- version: 1
-- description: Share of satisfied CSAT answers in the window (every answer counts)
-- window: 28d
-- unit: fraction
-- owner: data-team
--
-- Satisfied: 4-5 of 5, 6-7 of 7, 7-10 of 10. Other scales are refused by
-- the data checks before this runs.
SELECT
    CAST(SUM(CASE
            WHEN scale_max = 5 AND score >= 4 THEN 1
            WHEN scale_max = 7 AND score >= 6 THEN 1
            WHEN scale_max = 10 AND score >= 7 THEN 1
            ELSE 0
        END) AS DOUBLE) / NULLIF(COUNT(*), 0) AS value,
    COUNT(*) AS sample_size
FROM survey_responses
WHERE survey = 'csat'
  AND responded_at >= $window_start
  AND responded_at < $window_end
