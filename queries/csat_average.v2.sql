-- id: csat_average
-- version: 2
-- description: Mean score of the 5-point CSAT answers in the window
-- window: 28d
-- unit: points
-- name: CSAT average score
-- section: Satisfaction
-- format: points
-- drivers: weighted_mean
-- owner: data-team
-- windows: table
--
-- Version 2 gives the figures of version 1 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`).
-- A window without answers keeps its row (the LEFT JOIN); only matched
-- answers are counted (s.responded_at set).
SELECT
    w.window_end,
    AVG(CAST(s.score AS DOUBLE)) AS value,
    COUNT(s.responded_at) AS sample_size
FROM windows AS w
LEFT JOIN survey_responses AS s
  ON s.survey = 'csat'
 AND s.scale_max = 5
 AND s.responded_at >= w.window_start
 AND s.responded_at < w.window_end
 AND s.responded_at >= $run_start
 AND s.responded_at < $run_end
GROUP BY w.window_end
