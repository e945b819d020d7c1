-- id: grr
-- version: 1
-- description: Gross revenue retention: as NRR with each client capped at its MRR a year ago
-- window: 365d
-- unit: fraction
-- name: Gross revenue retention
-- section: Revenue
-- format: percent
-- owner: data-team
-- uses: client_mrr
SELECT
    SUM(LEAST(mrr_b, mrr_a)) / NULLIF(SUM(mrr_a), 0) AS value,
    COUNT(*) AS sample_size
FROM client_movements
WHERE mrr_a > 0
