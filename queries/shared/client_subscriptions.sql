-- materialise: run
-- Shared table: each client's subscription rows folded into one value
-- (mrr_rows: each row's span and monthly MRR), one row per client_id,
-- every row that started by $run_end. A metric reads a client's MRR at
-- any instant of its windows with mrr_at(subscription_rows, t), whether it
-- paid before t with paid_before(subscription_rows, t): the rows the
-- windows' MRR is summed from are read once per run, not joined and
-- summed once per metric and window.
client_subscriptions AS (
    SELECT
        client_id,
        mrr_rows(started_at, ended_at, monthly_mrr(amount, discount_pct, billing_period_months)) AS subscription_rows
    FROM subscriptions
    WHERE started_at <= $run_end
    GROUP BY client_id
)
