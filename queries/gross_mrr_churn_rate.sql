-- id: gross_mrr_churn_rate
-- version: 1
-- description: (churned + contraction MRR) / MRR at the window's start
-- window: 30d
-- unit: fraction
-- name: Gross MRR churn
-- section: Revenue
-- format: percent
-- owner: data-team
-- uses: client_mrr
SELECT
    SUM(CASE
        WHEN mrr_a > 0 AND mrr_b = 0 THEN mrr_a
        WHEN mrr_b > 0 AND mrr_b < mrr_a THEN mrr_a - mrr_b
        ELSE 0
    END) / NULLIF(SUM(mrr_a), 0) AS value,
    COUNT(*) FILTER (WHERE mrr_a > 0) AS sample_size
FROM client_movements
