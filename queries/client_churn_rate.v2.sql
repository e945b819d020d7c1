-- id: client_churn_rate
-- version: 2
-- description: Share of the clients paying at the window's start who no longer pay at its end
-- window: 30d
-- unit: fraction
-- name: Client churn rate
-- section: Clients
-- format: percent
-- drivers: weighted_mean
-- owner: data-team
-- uses: client_mrr
--
-- churned_clients / S. Clients who join and leave inside the window are
-- not in S; a row starting exactly at the start is part of the state then.
-- Also annualised: 1 - (1 - monthly)^12, never 12 * monthly. Version 2
-- follows the configured window: a window of d days compounds 360 / d
-- times a year (12 for the default 30d), where version 1 compounded 12
-- times whatever the window.
WITH rate AS (
    SELECT
        CAST(COUNT(*) FILTER (WHERE mrr_b = 0) AS DOUBLE) / NULLIF(COUNT(*), 0) AS monthly,
        COUNT(*) AS clients
    FROM client_movements
    WHERE mrr_a > 0
)
SELECT
    monthly AS value,
    1 - POWER(1 - monthly, 360.0 / $window_days) AS annualised,
    clients AS sample_size
FROM rate
