-- id: nrr
-- version: 1
-- description: Net revenue retention: MRR now of the clients paying a year ago, over their MRR then
-- window: 365d
-- unit: fraction
-- name: Net revenue retention
-- section: Revenue
-- format: percent
-- owner: data-team
-- uses: client_mrr
SELECT
    SUM(mrr_b) / NULLIF(SUM(mrr_a), 0) AS value,
    COUNT(*) AS sample_size
FROM client_movements
WHERE mrr_a > 0
