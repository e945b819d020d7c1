-- Shared CTE for a query over the table `windows` (`-- windows: table`):
-- the windows as lists, in the order of their ends, for the aggregates
-- that count every window in one pass over the rows (sets_in_each,
-- days_in_each): their i-th count belongs to the i-th of window_ends.
-- froms and tos are the local dates of each window's start and end, as
-- days_in takes them.
window_lists AS (
    SELECT
        array_agg(window_end ORDER BY window_end) AS window_ends,
        array_agg(local_date(window_start) ORDER BY window_end) AS froms,
        array_agg(local_date(window_end) ORDER BY window_end) AS tos
    FROM windows
)
