-- id: nps_margin
-- version: 3
-- description: 95 % margin of error of the NPS (the ± beside it)
-- window: 90d
-- unit: score
-- name: NPS margin of error
-- section: Satisfaction
-- format: score
-- owner: data-team
-- windows: table
-- uses: nps_answer_spans, nps_latest_by_window
--
-- Version 3 gives the figures of version 2 from the run's shared table
-- nps_answer_spans (each answer with its respondent's next, sorted once
-- per run) instead of sorting the answers in every query.
--
-- Version 2 gives the figures of version 1 for every week a run needs in
-- one query over the table `windows`.
SELECT
    w.window_end,
    nps_margin(a.score) AS value,
    COUNT(a.score) AS sample_size
FROM windows AS w
LEFT JOIN nps_answers_by_window AS a ON a.window_end = w.window_end
GROUP BY w.window_end
