-- materialise: run
-- Shared table: every NPS answer of the run's windows ($run_start to
-- $run_end), one row each, with the instant of its respondent's next
-- answer (`next_at`, in the order responded_at, response_id; NULL for the
-- last). An answer is its respondent's latest in a window [a, b) when it
-- is in the window and next_at is not (NULL or at least b), so a run sorts
-- each answer once, not once per metric and scope. A next answer after
-- $run_end is after every window's end, like no next answer at all: the
-- figures are the same whatever span the table covers.
nps_answer_spans AS (
    SELECT
        client_id,
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
)
