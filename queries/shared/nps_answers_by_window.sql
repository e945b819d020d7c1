-- Shared CTE for a query over the table `windows` (`-- windows: table`):
-- for each window, its NPS answers, only the latest of each (client_id,
-- respondent_id) in that window; ties on responded_at go to the larger
-- response_id (metrics.md). The same answers as nps_answers, window by
-- window, from one pass over survey_responses ($run_start to $run_end
-- spans every window).
nps_answers_by_window AS (
    SELECT window_end, score
    FROM (
        SELECT
            w.window_end,
            r.score,
            ROW_NUMBER() OVER (
                PARTITION BY w.window_end, r.client_id, r.respondent_id
                ORDER BY r.responded_at DESC, r.response_id DESC
            ) AS recency
        FROM windows AS w
        JOIN survey_responses AS r
          ON r.responded_at >= w.window_start
         AND r.responded_at < w.window_end
        WHERE r.survey = 'nps'
          AND r.responded_at >= $run_start
          AND r.responded_at < $run_end
    ) AS ranked
    WHERE recency = 1
)
