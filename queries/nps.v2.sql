-- id: nps
-- version: 2
-- description: Net Promoter Score of the latest answer of each respondent in the window
-- window: 90d
-- unit: score
-- name: Net Promoter Score
-- section: Satisfaction
-- format: score
-- drivers: weighted_mean
-- owner: data-team
-- uses: nps_answers
--
-- Version 2 also returns the split (promoters 9-10, passives 7-8,
-- detractors 0-6) and the 95 % margin of error, so the report can show
-- "-18 ± 14" and the split chart, and grey a move within the margin.
SELECT
    nps(score) AS value,
    COUNT(score) AS sample_size,
    nps_margin(score) AS margin,
    COUNT(score) FILTER (WHERE score >= 9) AS promoters,
    COUNT(score) FILTER (WHERE score BETWEEN 7 AND 8) AS passives,
    COUNT(score) FILTER (WHERE score <= 6) AS detractors
FROM nps_answers
