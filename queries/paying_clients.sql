-- id: paying_clients
-- version: 1
-- description: Clients paying at the week's end (client MRR above zero)
-- window: as_of_end
-- unit: count
-- name: Paying clients
-- section: Revenue
-- format: count
-- drivers: sum
-- owner: data-team
-- uses: client_mrr
SELECT
    COUNT(*) AS value,
    COUNT(*) AS sample_size
FROM mrr_at_end
WHERE mrr > 0
