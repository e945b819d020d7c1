-- id: nps
-- version: 4
-- description: Net Promoter Score of the latest answer of each respondent in the window
-- window: 90d
-- unit: score
-- name: Net Promoter Score
-- section: Satisfaction
-- format: score
-- drivers: weighted_mean
-- owner: data-team
-- windows: table
-- uses: nps_answer_spans, nps_latest_by_window
--
-- Version 4 gives the figures of version 3 from the run's shared table
-- nps_answer_spans (each answer with its respondent's next, sorted once
-- per run) instead of sorting the answers in every query.
--
-- Version 3 gives the figures of version 2 for every week a run needs in
-- one query: it reads its windows from the table `windows` and returns a
-- row per window (`window_end`), instead of one query per week.
--
-- Also returns the split (promoters 9-10, passives 7-8, detractors 0-6)
-- and the 95 % margin of error, so the report can show "-18 ± 14" and the
-- split chart, and grey a move within the margin.
SELECT
    w.window_end,
    nps(a.score) AS value,
    COUNT(a.score) AS sample_size,
    nps_margin(a.score) AS margin,
    COUNT(a.score) FILTER (WHERE a.score >= 9) AS promoters,
    COUNT(a.score) FILTER (WHERE a.score BETWEEN 7 AND 8) AS passives,
    COUNT(a.score) FILTER (WHERE a.score <= 6) AS detractors
FROM windows AS w
LEFT JOIN nps_answers_by_window AS a ON a.window_end = w.window_end
GROUP BY w.window_end
