-- materialise: run
-- Shared table: the survey answers the at-risk signals look for, over
-- every window the run reads ($run_start to $run_end): NPS answers of 0-6
-- (detractor) and CSAT answers that are not satisfied (unhappy_csat), one
-- row per answer. The at-risk queries read their windows' answers from
-- it, a few hundred thousand rows in memory at demo scale 1600, instead
-- of filtering the 4.6 M rows of survey_responses twice for each of the
-- three places a query scores signals. CASE, not OR, so that
-- csat_satisfied only ever sees CSAT answers, as in the queries' own
-- filters.
risk_answers AS (
    SELECT client_id, survey, score, scale_max, responded_at
    FROM survey_responses
    WHERE responded_at >= $run_start
      AND responded_at < $run_end
      AND CASE survey
            WHEN 'nps' THEN score <= 6
            WHEN 'csat' THEN NOT csat_satisfied(score, scale_max)
            ELSE false
          END
)
