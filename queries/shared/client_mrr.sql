-- Shared CTEs: client MRR at the window's two ends (metrics.md).
-- mrr_c(t) is the sum of the monthly-normalised revenue of the client's
-- subscription rows active at t (started_at <= t and ended_at, if any,
-- after t); a client is paying at t when mrr_c(t) > 0.
row_mrr AS (
    SELECT
        client_id,
        started_at,
        ended_at,
        monthly_mrr(amount, discount_pct, billing_period_months) AS mrr
    FROM subscriptions
),
mrr_at_start AS (
    SELECT client_id, SUM(mrr) AS mrr
    FROM row_mrr
    WHERE started_at <= $window_start
      AND (ended_at IS NULL OR ended_at > $window_start)
    GROUP BY client_id
),
mrr_at_end AS (
    SELECT client_id, SUM(mrr) AS mrr
    FROM row_mrr
    WHERE started_at <= $window_end
      AND (ended_at IS NULL OR ended_at > $window_end)
    GROUP BY client_id
),
-- Clients that paid at some instant before the window's start: a row with
-- positive MRR that started before it and lasted a moment.
paid_before_start AS (
    SELECT DISTINCT client_id
    FROM row_mrr
    WHERE mrr > 0
      AND started_at < $window_start
      AND (ended_at IS NULL OR ended_at > started_at)
),
-- Every client with a row active at either end: MRR at both ends (0 when
-- nothing is active) and whether it had paid before the window.
client_movements AS (
    SELECT
        c.client_id,
        COALESCE(s.mrr, 0) AS mrr_a,
        COALESCE(e.mrr, 0) AS mrr_b,
        p.client_id IS NOT NULL AS paid_before
    FROM (SELECT client_id FROM mrr_at_start UNION SELECT client_id FROM mrr_at_end) AS c
    LEFT JOIN mrr_at_start AS s ON s.client_id = c.client_id
    LEFT JOIN mrr_at_end AS e ON e.client_id = c.client_id
    LEFT JOIN paid_before_start AS p ON p.client_id = c.client_id
)
