-- id: nps
-- version: 1
-- description: Net Promoter Score of the latest answer of each respondent in the window
-- window: 90d
-- unit: score
-- owner: data-team
--
-- metrics.md: only the latest response of each (client_id, respondent_id)
-- counts; ties on responded_at go to the larger response_id.
WITH ranked AS (
    SELECT
        score,
        ROW_NUMBER() OVER (
            PARTITION BY client_id, respondent_id
            ORDER BY responded_at DESC, response_id DESC
        ) AS recency
    FROM survey_responses
    WHERE survey = 'nps'
      AND responded_at >= $window_start
      AND responded_at < $window_end
)
SELECT
    nps(score) AS value,
    COUNT(score) AS sample_size
FROM ranked
WHERE recency = 1
