-- id: nps_margin
-- version: 1
-- description: 95 % margin of error of the NPS (the ± beside it)
-- window: 90d
-- unit: score
-- name: NPS margin of error
-- section: Satisfaction
-- format: score
-- owner: data-team
-- uses: nps_answers
SELECT nps_margin(score) AS value, COUNT(score) AS sample_size
FROM nps_answers
