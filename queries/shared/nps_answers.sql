-- Shared CTE: the NPS answers of the window, only the latest of each
-- (client_id, respondent_id); ties on responded_at go to the larger
-- response_id (metrics.md).
nps_answers AS (
    SELECT score
    FROM (
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
    ) AS ranked
    WHERE recency = 1
)
