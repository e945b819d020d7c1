-- Shared CTE for a query over the table `windows` (`-- windows: table`):
-- for each window, its NPS answers, only the latest of each (client_id,
-- respondent_id) in that window; ties on responded_at go to the larger
-- response_id (metrics.md). The same answers as nps_answers, window by
-- window, from one pass over survey_responses ($run_start to $run_end
-- spans every window): an answer is its respondent's latest in a window
-- when it is in the window and the respondent's next answer (in the
-- order responded_at, response_id) is not, so each answer is sorted once
-- rather than once per window.
nps_answers_by_window AS (
    SELECT w.window_end, a.score
    FROM (
        SELECT
            score,
            responded_at,
            LEAD(responded_at) OVER (
                PARTITION BY client_id, respondent_id
                ORDER BY responded_at, response_id
            ) AS next_at
        FROM survey_responses
        WHERE survey = 'nps'
          AND responded_at >= $run_start
          AND responded_at < $run_end
    ) AS a
    JOIN windows AS w
      ON a.responded_at >= w.window_start
     AND a.responded_at < w.window_end
     AND (a.next_at IS NULL OR a.next_at >= w.window_end)
)
