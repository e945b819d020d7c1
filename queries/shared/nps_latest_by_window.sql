-- Shared CTE for a query over the table `windows` (`-- windows: table`),
-- read from the shared table nps_answer_spans (so a query lists it before
-- this file): for each window, its NPS answers, only the latest of each
-- (client_id, respondent_id) in that window, ties on responded_at to the
-- larger response_id (metrics.md). The same rows as
-- nps_answers_by_window, under the same name, from answers sorted once
-- per run.
nps_answers_by_window AS (
    SELECT w.window_end, a.score
    FROM nps_answer_spans AS a
    JOIN windows AS w
      ON a.responded_at >= w.window_start
     AND a.responded_at < w.window_end
     AND (a.next_at IS NULL OR a.next_at >= w.window_end)
)
