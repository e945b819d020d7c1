-- id: nps
-- version: 1
-- description: Net Promoter Score of the latest answer of each respondent in the window
-- window: 90d
-- unit: score
-- name: Net Promoter Score
-- section: Satisfaction
-- format: score
-- drivers: weighted_mean
-- owner: data-team
-- uses: nps_answers
SELECT nps(score) AS value, COUNT(score) AS sample_size
FROM nps_answers
