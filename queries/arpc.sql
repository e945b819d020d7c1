-- id: arpc
-- version: 1
-- description: Average revenue per paying client (ARPA): MRR / paying clients
-- window: as_of_end
-- unit: money
-- name: Average revenue per client
-- section: Revenue
-- format: money
-- drivers: weighted_mean
-- owner: data-team
-- uses: client_mrr
SELECT
    SUM(mrr) FILTER (WHERE mrr > 0) / NULLIF(COUNT(*) FILTER (WHERE mrr > 0), 0) AS value,
    COUNT(*) FILTER (WHERE mrr > 0) AS sample_size
FROM mrr_at_end
