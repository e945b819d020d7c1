#!/usr/bin/env python3
"""The full weekly report at growing scales, beside DuckDB on the same files.

For each scale (default 16, 160 and 1600; scale 1 is about 63 k usage
events and 120 clients, 1600 about 100 M events and 192 k clients):

1. makes the demo warehouse once (`clientpulse demo-data`, cached under
   target/bench/warehouses/, fixed seed and end date);
2. runs the full report over it: the shipped config (every metric, its
   12-week trend, every segment, every account manager's book) with
   `--warehouse`, as a user would, and reads the run's own per-stage
   timings and its `--profile` (each query's time and the rows it read
   per table); wall time and peak RSS are measured here (wait4);
3. runs DuckDB (from PyPI) on the same files for the heaviest figures of
   the one week only (stickiness, active clients, NPS, MRR and its five
   movements), written as plain DuckDB SQL below, in its own process so
   that its peak RSS is its own;
4. with `--trend`, runs DuckDB twice more for the same nine figures of
   every week of the report's 12-week trend, each in a process of its
   own: one week after another (the one-week SQL for each), and all
   twelve at once (the events and answers read once and joined to the
   weeks, as the shipped queries compute a trend): the like-for-like side
   of the report's trend;
5. prints them side by side with the ratios (clientpulse's whole report
   over DuckDB's one week, and over its twelve weeks: below 1.0 is
   faster) and checks that DuckDB's figures equal the report's (with
   `--trend`, all 108: every week of the nine metrics' trends);
6. with `--floor`, times what no design of the report can do without:
   reading the four columns of the usage events its windows need (the
   events of the trend's 12 weeks and the 28 days before them), and
   grouping them by user, as the first thing a run with only
   `stickiness` does, in a scratch copy of queries/ whose shared table
   `user_days` is replaced by each (then `user_days` as shipped): the
   least a report of the trend spends before its other 38 metrics, its
   segments and its books.

Usage (from the repository's root):

    cargo build --release
    python3 bench/full_report.py                 # 16, 160, 1600
    python3 bench/full_report.py --scales 16,160 --repeat 3
    python3 bench/full_report.py --trend         # DuckDB for all 12 weeks too
    python3 bench/full_report.py --floor         # what one pass over the events costs

    # the binary to deploy (Cargo.toml's `release-lto`, about 30 min to build)
    cargo build --profile release-lto
    python3 bench/full_report.py --bin target/release-lto/clientpulse

DuckDB is installed into target/bench/venv on the first run (pip).
Nothing here is a test: it prints numbers, it does not assert times.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "target", "bench")
VENV = os.path.join(BENCH, "venv")
# The week reported and the clock: fixed, so every run computes the same.
PERIOD = "2026-W47"
NOW = "2026-11-25T13:00:00Z"
DATA_END = "2026-11-25"
WEEK_END = "2026-11-23 00:00:00+00"


def venv_python():
    return os.path.join(VENV, "bin", "python")


def ensure_duckdb():
    """Re-runs this script under target/bench/venv, with duckdb in it."""
    try:
        import duckdb  # noqa: F401

        return
    except ImportError:
        pass
    if os.path.abspath(sys.executable) != os.path.abspath(venv_python()):
        if not os.path.exists(venv_python()):
            subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run(
            [venv_python(), "-m", "pip", "install", "--quiet", "duckdb"], check=True
        )
        os.execv(venv_python(), [venv_python()] + sys.argv)
    sys.exit("duckdb could not be installed into " + VENV)


def run_measured(command, env=None):
    """Runs `command` to completion; (seconds, peak MiB, stdout, stderr, rc)."""
    out_file = tempfile.TemporaryFile(mode="w+")
    err_file = tempfile.TemporaryFile(mode="w+")
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=out_file, stderr=err_file, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    out_file.seek(0)
    err_file.seek(0)
    code = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, out_file.read(), err_file.read(), code


def warehouse(binary, scale):
    """The demo warehouse at `scale`, made once and kept."""
    path = os.path.join(BENCH, "warehouses", f"scale-{scale}")
    if os.path.exists(os.path.join(path, "_clientpulse_demo.json")):
        return path
    shutil.rmtree(path, ignore_errors=True)
    print(f"making the scale-{scale} warehouse in {path} …", flush=True)
    started = time.monotonic()
    subprocess.run(
        [binary, "demo-data", "--out", path, "--scale", str(scale), "--end", DATA_END],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"  made in {time.monotonic() - started:.1f} s", flush=True)
    return path


def table_rows(path):
    """Rows of each table, from the Parquet footers."""
    import duckdb

    rows = {}
    for table in sorted(os.listdir(path)):
        folder = os.path.join(path, table)
        if os.path.isdir(folder):
            rows[table] = duckdb.sql(
                f"SELECT SUM(num_rows) FROM parquet_file_metadata('{folder}/**/*.parquet')"
            ).fetchall()[0][0]
    return rows


def clientpulse(binary, path, out, config=os.path.join(ROOT, "config", "clientpulse.yaml")):
    """The report of `config` (the shipped one: the full report) over
    `path`: (seconds, peak MiB, stages, report, profile), the profile
    being the run's own `--profile` lines."""
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out, exist_ok=True)
    profile_path = os.path.join(out, "profile.jsonl")
    command = [
        binary,
        "run",
        "--config",
        config,
        "--warehouse",
        path,
        "--out",
        out,
        "--period",
        PERIOD,
        "--dry-run",
        "--profile",
        profile_path,
        "--now",
        NOW,
    ]
    seconds, peak, _, stderr, code = run_measured(command)
    if code != 0:
        sys.exit(f"clientpulse failed (exit {code}):\n{stderr}")
    stages = next(
        (line[len("timings: ") :] for line in stderr.splitlines() if line.startswith("timings: ")),
        "",
    )
    with open(os.path.join(out, PERIOD, "report.json")) as file:
        report = json.load(file)
    with open(profile_path) as file:
        profile = [json.loads(line) for line in file if line.strip()]
    return seconds, peak, stages, report, profile


# The floors: in place of the shared table `user_days`, the least work a
# run must do over the events of its windows, as the inner SELECT of
# FLOOR_TABLE, which keeps the table's columns (so `stickiness` still
# plans); the figures are not the report's. None: `user_days` as shipped.
FLOOR_TABLE = """-- materialise: run
user_days AS (
    SELECT s.client_id, s.user_id, d.days, d.feature_days
    FROM ({events}
        FROM usage_events
        WHERE occurred_at >= $run_start AND occurred_at < $run_end{grouping}
    ) AS s
    CROSS JOIN (
        SELECT day_set(DATE '2026-11-01') AS days,
               day_sets_by('api', DATE '2026-11-01') AS feature_days
    ) AS d
)
"""
FLOORS = [
    (
        "read the events' four columns",
        {
            "events": """
        SELECT CAST(sum(length(client_id)) AS VARCHAR) AS client_id,
               CAST(sum(length(user_id) + length(feature)) AS VARCHAR) AS user_id,
               max(date_trunc('day', occurred_at)) AS latest""",
            "grouping": "",
        },
    ),
    (
        "group them by user (a count each)",
        {
            "events": """
        SELECT client_id, user_id, count(*) AS events""",
            "grouping": """
        GROUP BY client_id, user_id""",
        },
    ),
    ("user_days as shipped", None),
]


def floor_config(queries, out):
    """The shipped config with `stickiness` alone, no segments and no
    books, reading `queries`."""
    with open(os.path.join(ROOT, "config", "clientpulse.yaml")) as file:
        text = file.read()
    config = os.path.join(ROOT, "config")
    for pattern, replacement in [
        (r"queries: \.\./queries\n", f"queries: {queries}\n"),
        (r"benchmarks: benchmarks\.yaml\n", f"benchmarks: {config}/benchmarks.yaml\n"),
        (r"templates: \.\./report-templates\n", f"templates: {ROOT}/report-templates\n"),
        (r"out: \.\./out\n", f"out: {out}\n"),
        (r"breakdowns: \[[^\]]*\]", "breakdowns: []"),
        (r"metrics:\n(  - id: \w+\n)+", "metrics:\n  - id: stickiness\n"),
        (
            r"audiences:.*?\n# What the data",
            "audiences:\n  - name: data-team\n    recipients: [data-team@example.com]\n\n"
            "# What the data",
        ),
    ]:
        text, count = re.subn(pattern, replacement, text, count=1, flags=re.S)
        if count != 1:
            sys.exit(f"config/clientpulse.yaml has no {pattern!r}: update bench/full_report.py")
    return text


def floors(binary, path, repeat):
    """[(name, best seconds of the shared table)] for each of FLOORS."""
    scratch = tempfile.mkdtemp(prefix="clientpulse-floor-")
    try:
        queries = os.path.join(scratch, "queries")
        shutil.copytree(os.path.join(ROOT, "queries"), queries)
        # The scratch tables are not published versions.
        os.remove(os.path.join(queries, "queries.lock"))
        shipped = os.path.join(ROOT, "queries", "shared", "user_days.sql")
        config = os.path.join(scratch, "floor.yaml")
        with open(config, "w") as file:
            file.write(floor_config(queries, os.path.join(scratch, "out")))
        measured = []
        for name, parts in FLOORS:
            with open(shipped) as file:
                text = file.read() if parts is None else FLOOR_TABLE.format(**parts)
            with open(os.path.join(queries, "shared", "user_days.sql"), "w") as file:
                file.write(text)
            best = None
            for _ in range(max(1, repeat)):
                profile = clientpulse(binary, path, os.path.join(scratch, "out"), config)[4]
                seconds = next(q["seconds"] for q in profile if q["metric"] == "user_days")
                best = seconds if best is None else min(best, seconds)
            measured.append((name, best))
        return measured
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def profile_summary(profile, top=8):
    """Lines saying what the queries read, table by table, and which
    metrics cost the most (seconds summed over their queries: queries run
    two at once, so the sum exceeds the wall time)."""
    rows = {}
    seconds = {}
    runs = {}
    planning = sum(query.get("planning_seconds", 0.0) for query in profile)
    for query in profile:
        for table, count in query["rows_read"].items():
            rows[table] = rows.get(table, 0) + count
        seconds[query["metric"]] = seconds.get(query["metric"], 0.0) + query["seconds"]
        runs[query["metric"]] = runs.get(query["metric"], 0) + 1
    lines = [
        f"    {len(profile)} queries, {sum(seconds.values()):.1f} s summed"
        f" ({planning:.1f} s of it planning); rows read: "
        + ", ".join(f"{t} {n:,}" for t, n in sorted(rows.items(), key=lambda kv: -kv[1]))
    ]
    costly = sorted(seconds.items(), key=lambda kv: -kv[1])[:top]
    lines.append(
        "    costliest: "
        + ", ".join(f"{metric} {s:.1f} s ({runs[metric]} runs)" for metric, s in costly)
    )
    return lines


# DuckDB's version of each figure, one week (the week ending WEEK_END),
# with the windows of the shipped queries: 28 days for usage, 90 for NPS,
# 30 for MRR movements, MRR at the week's end.
DUCKDB_SQL = {
    "stickiness": """
        WITH active AS (
            SELECT DISTINCT client_id, user_id, CAST(timezone('UTC', occurred_at) AS DATE) AS day
            FROM read_parquet('{wh}/usage_events/**/*.parquet')
            WHERE occurred_at >= {end} - INTERVAL 28 DAY AND occurred_at < {end}
        )
        SELECT (COUNT(*) / 28.0) / NULLIF((SELECT COUNT(*) FROM (SELECT DISTINCT client_id, user_id FROM active)), 0)
        FROM active
    """,
    "active_client_rate": """
        WITH mrr_at_end AS ({mrr_at_end}),
        active AS (
            SELECT DISTINCT client_id FROM read_parquet('{wh}/usage_events/**/*.parquet')
            WHERE occurred_at >= {end} - INTERVAL 28 DAY AND occurred_at < {end}
        )
        SELECT COUNT(a.client_id) / NULLIF(COUNT(*), 0)
        FROM mrr_at_end AS p LEFT JOIN active AS a USING (client_id)
        WHERE p.mrr > 0
    """,
    "nps": """
        WITH answers AS (
            SELECT score FROM (
                SELECT score, ROW_NUMBER() OVER (
                    PARTITION BY client_id, respondent_id
                    ORDER BY responded_at DESC, response_id DESC) AS recency
                FROM read_parquet('{wh}/survey_responses/**/*.parquet')
                WHERE survey = 'nps'
                  AND responded_at >= {end} - INTERVAL 90 DAY AND responded_at < {end}
            ) WHERE recency = 1
        )
        SELECT 100.0 * (COUNT(*) FILTER (WHERE score >= 9) - COUNT(*) FILTER (WHERE score <= 6))
            / NULLIF(COUNT(*), 0)
        FROM answers
    """,
    "mrr": "WITH mrr_at_end AS ({mrr_at_end}) SELECT SUM(mrr) FROM mrr_at_end",
}
MOVEMENTS = {
    "new_mrr": "SUM(mrr_b) FILTER (WHERE mrr_a = 0 AND mrr_b > 0 AND NOT paid_before)",
    "reactivation_mrr": "SUM(mrr_b) FILTER (WHERE mrr_a = 0 AND mrr_b > 0 AND paid_before)",
    "expansion_mrr": "SUM(mrr_b - mrr_a) FILTER (WHERE mrr_a > 0 AND mrr_b > mrr_a)",
    "contraction_mrr": "SUM(mrr_a - mrr_b) FILTER (WHERE mrr_b > 0 AND mrr_b < mrr_a)",
    "churned_mrr": "SUM(mrr_a) FILTER (WHERE mrr_a > 0 AND mrr_b = 0)",
}
ROW_MRR = """
    SELECT client_id, started_at, ended_at,
           CAST(amount AS DOUBLE) * (1 - COALESCE(discount_pct, 0)) / billing_period_months AS mrr
    FROM read_parquet('{wh}/subscriptions/**/*.parquet')
"""
MRR_AT = """
    SELECT client_id, SUM(mrr) AS mrr FROM ({row_mrr})
    WHERE started_at <= {at} AND (ended_at IS NULL OR ended_at > {at})
    GROUP BY client_id
"""
MOVEMENTS_SQL = """
    WITH s AS ({mrr_at_start}), e AS ({mrr_at_end}),
    paid_before AS (
        SELECT DISTINCT client_id FROM ({row_mrr})
        WHERE mrr > 0 AND started_at < {start}
          AND (ended_at IS NULL OR ended_at > started_at)
    ),
    moves AS (
        SELECT c.client_id, COALESCE(s.mrr, 0) AS mrr_a, COALESCE(e.mrr, 0) AS mrr_b,
               p.client_id IS NOT NULL AS paid_before
        FROM (SELECT client_id FROM s UNION SELECT client_id FROM e) AS c
        LEFT JOIN s USING (client_id) LEFT JOIN e USING (client_id)
        LEFT JOIN paid_before AS p USING (client_id)
    )
    SELECT {columns} FROM moves
"""


# The same figures for every week of a trend at once, the way the shipped
# queries compute a trend (`-- windows: table`): the events and answers of
# all the windows are read once, each row joined to the windows it falls
# in ({weeks}: a row per week, `back` weeks before the report's, ending at
# `week_end`). The MRR figures read only the subscriptions, and stay one
# query per week.
DUCKDB_TREND_SQL = {
    "stickiness": """
        WITH weeks AS ({weeks}),
        active AS (
            SELECT DISTINCT client_id, user_id, CAST(timezone('UTC', occurred_at) AS DATE) AS day
            FROM read_parquet('{wh}/usage_events/**/*.parquet')
            WHERE occurred_at >= {first_end} - INTERVAL 28 DAY AND occurred_at < {last_end}
        )
        SELECT w.back, (COUNT(*) / 28.0) / NULLIF(COUNT(DISTINCT (a.client_id, a.user_id)), 0)
        FROM weeks AS w
        JOIN active AS a
          ON a.day >= CAST(w.week_end - INTERVAL 28 DAY AS DATE) AND a.day < CAST(w.week_end AS DATE)
        GROUP BY w.back
    """,
    "active_client_rate": """
        WITH weeks AS ({weeks}),
        client_days AS (
            SELECT DISTINCT client_id, CAST(timezone('UTC', occurred_at) AS DATE) AS day
            FROM read_parquet('{wh}/usage_events/**/*.parquet')
            WHERE occurred_at >= {first_end} - INTERVAL 28 DAY AND occurred_at < {last_end}
        ),
        active AS (
            SELECT DISTINCT w.back, d.client_id
            FROM weeks AS w
            JOIN client_days AS d
              ON d.day >= CAST(w.week_end - INTERVAL 28 DAY AS DATE) AND d.day < CAST(w.week_end AS DATE)
        ),
        paying AS (
            SELECT w.back, r.client_id
            FROM weeks AS w
            JOIN ({row_mrr}) AS r
              ON r.started_at <= w.week_end AND (r.ended_at IS NULL OR r.ended_at > w.week_end)
            GROUP BY w.back, r.client_id
            HAVING SUM(r.mrr) > 0
        )
        SELECT p.back, COUNT(a.client_id) / NULLIF(COUNT(*), 0)
        FROM paying AS p LEFT JOIN active AS a USING (back, client_id)
        GROUP BY p.back
    """,
    "nps": """
        WITH weeks AS ({weeks}),
        answers AS (
            SELECT client_id, respondent_id, responded_at, response_id, score
            FROM read_parquet('{wh}/survey_responses/**/*.parquet')
            WHERE survey = 'nps'
              AND responded_at >= {first_end} - INTERVAL 90 DAY AND responded_at < {last_end}
        ),
        latest AS (
            SELECT w.back, a.score, ROW_NUMBER() OVER (
                PARTITION BY w.back, a.client_id, a.respondent_id
                ORDER BY a.responded_at DESC, a.response_id DESC) AS recency
            FROM weeks AS w
            JOIN answers AS a
              ON a.responded_at >= w.week_end - INTERVAL 90 DAY AND a.responded_at < w.week_end
        )
        SELECT back, 100.0 * (COUNT(*) FILTER (WHERE score >= 9) - COUNT(*) FILTER (WHERE score <= 6))
            / NULLIF(COUNT(*), 0)
        FROM latest WHERE recency = 1
        GROUP BY back
    """,
}


def week_end(weeks_back):
    """The end of the week `weeks_back` weeks before the report's, as
    DuckDB SQL: 0 is the report's week, 11 the first of its trend."""
    end = datetime.datetime.fromisoformat(WEEK_END) - datetime.timedelta(weeks=weeks_back)
    return f"TIMESTAMPTZ '{end.isoformat(sep=' ')}'"


def duckdb_worker(path, result_file, weeks, how):
    """Computes DUCKDB_SQL's figures over `path` for the report's week and
    the `weeks - 1` before it: `each`, one week after another (DUCKDB_SQL
    for each); `windows`, DUCKDB_TREND_SQL for all the weeks at once, and
    the MRR figures week by week. Writes a list of {metric: value} as
    JSON, the report's week first."""
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("SET threads = 2")
    weeks = int(weeks)
    if how == "windows":
        by_week = [{} for _ in range(weeks)]
        rows = " UNION ALL ".join(
            f"SELECT {back} AS back, {week_end(back)} AS week_end" for back in range(weeks)
        )
        for metric, sql in DUCKDB_TREND_SQL.items():
            sql = sql.format(
                weeks=rows,
                wh=path,
                first_end=week_end(weeks - 1),
                last_end=week_end(0),
                row_mrr=ROW_MRR.format(wh=path),
            )
            for back, value in connection.execute(sql).fetchall():
                by_week[back][metric] = value
        for back in range(weeks):
            for metric, value in duckdb_week(
                connection, path, week_end(back), skip=DUCKDB_TREND_SQL
            ).items():
                by_week[back][metric] = value
    else:
        by_week = [duckdb_week(connection, path, week_end(back)) for back in range(weeks)]
    with open(result_file, "w") as file:
        json.dump(
            [{k: (None if v is None else float(v)) for k, v in week.items()} for week in by_week],
            file,
        )


def duckdb_week(connection, path, end, skip=()):
    """DUCKDB_SQL's figures of the week ending `end` (DuckDB SQL), but for
    the metrics in `skip`."""
    start30 = f"({end} - INTERVAL 30 DAY)"
    row_mrr = ROW_MRR.format(wh=path)
    mrr_at_end = MRR_AT.format(row_mrr=row_mrr, at=end)
    figures = {}
    for metric, sql in DUCKDB_SQL.items():
        if metric in skip:
            continue
        sql = sql.format(wh=path, end=end, mrr_at_end=mrr_at_end)
        figures[metric] = connection.execute(sql).fetchone()[0]
    columns = ", ".join(f"{sql} AS {metric}" for metric, sql in MOVEMENTS.items())
    sql = MOVEMENTS_SQL.format(
        mrr_at_start=MRR_AT.format(row_mrr=row_mrr, at=start30),
        mrr_at_end=mrr_at_end,
        row_mrr=row_mrr,
        start=start30,
        columns=columns,
    )
    for metric, value in zip(MOVEMENTS, connection.execute(sql).fetchone()):
        figures[metric] = value
    return figures


def duckdb_run(path, weeks=1, how="each"):
    """DuckDB's figures over `path` for the report's week and the
    `weeks - 1` before it (see duckdb_worker for `how`): (seconds, peak
    MiB, figures by week, the report's week first)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--duckdb-worker",
            path,
            result.name,
            str(weeks),
            how,
        ]
        seconds, peak, _, stderr, code = run_measured(command)
        if code != 0:
            sys.exit(f"duckdb failed (exit {code}):\n{stderr}")
        with open(result.name) as file:
            return seconds, peak, json.load(file)


def agreement(report, by_week):
    """The figures of DuckDB's that differ from the report's: `by_week`
    is DuckDB's figures, the report's week first, then each week of its
    trend before it. Returns (figures compared, differences)."""
    trends = {
        metric["id"]: [point.get("value") for point in metric.get("trend", [])]
        for metric in report.get("metrics", [])
    }
    compared = 0
    differ = []
    for back, figures in enumerate(by_week):
        for metric, theirs in figures.items():
            trend = trends.get(metric, [])
            ours = trend[-1 - back] if back < len(trend) else None
            compared += 1
            if ours is None or theirs is None:
                if ours != theirs:
                    differ.append(f"{metric} {back} weeks back: {ours} vs {theirs}")
            elif abs(ours - theirs) > 1e-6 * max(1.0, abs(theirs)):
                differ.append(f"{metric} {back} weeks back: {ours} vs {theirs}")
    return compared, differ


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", default="16,160,1600")
    parser.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "clientpulse"))
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the best is kept")
    parser.add_argument(
        "--trend",
        action="store_true",
        help="also time DuckDB on the nine figures of every week of the report's"
        " 12-week trend, and check all of them against the report's trend",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also time the least a report of the trend must do over the events"
        " (read them, group them by user) beside `user_days` as shipped",
    )
    parser.add_argument("--duckdb-worker", nargs=4, metavar=("WAREHOUSE", "RESULT", "WEEKS", "HOW"))
    args = parser.parse_args()
    ensure_duckdb()
    if args.duckdb_worker:
        duckdb_worker(*args.duckdb_worker)
        return
    if not os.path.exists(args.bin):
        sys.exit(f"no binary at {args.bin}: run `cargo build --release` first")
    # DuckDB's sides: the nine figures of one week, then (--trend) of each
    # week of the trend, one week after another and all weeks at once.
    sides = [("one week", 1, "each")]
    if args.trend:
        sides += [("12 weeks, week by week", 12, "each"), ("12 weeks at once", 12, "windows")]
    results = []
    for scale in [int(s) for s in args.scales.split(",") if s.strip()]:
        path = warehouse(args.bin, scale)
        rows = table_rows(path)
        print(f"\nscale {scale}: " + ", ".join(f"{t} {n:,}" for t, n in rows.items()), flush=True)
        out = os.path.join(BENCH, "out", f"scale-{scale}")
        # The best run of each side, each kept apart.
        ours = None
        theirs = [None] * len(sides)
        for _ in range(max(1, args.repeat)):
            run = clientpulse(args.bin, path, out)
            print(f"  clientpulse full report {run[0]:6.1f} s, peak {run[1]:6.0f} MiB", flush=True)
            print(f"    stages: {run[2]}", flush=True)
            for line in profile_summary(run[4]):
                print(line, flush=True)
            if ours is None or run[0] < ours[0]:
                ours = run
            for index, (name, weeks, how) in enumerate(sides):
                side = duckdb_run(path, weeks, how)
                print(
                    f"  duckdb, nine figures, {name}: {side[0]:6.1f} s, peak {side[1]:6.0f} MiB"
                    f" | ratio {run[0] / side[0]:.2f}",
                    flush=True,
                )
                if theirs[index] is None or side[0] < theirs[index][0]:
                    theirs[index] = side
        for (name, _, _), side in zip(sides, theirs):
            compared, differ = agreement(ours[3], side[2])
            print(
                f"  figures ({name}): "
                + (
                    f"DuckDB agrees on all {compared}"
                    if not differ
                    else "DIFFER: " + "; ".join(differ)
                ),
                flush=True,
            )
        if args.floor:
            week = theirs[0][0]
            for name, seconds in floors(args.bin, path, args.repeat):
                print(
                    f"  floor, {name}: {seconds:6.2f} s"
                    f" | over DuckDB's one week {seconds / week:.2f}",
                    flush=True,
                )
        results.append((scale, rows.get("usage_events", 0), ours, theirs))
    print("\nBest run of each; the ratio is clientpulse's full report over DuckDB's time.")
    print(
        "\n| scale | usage events | clientpulse full report | peak RSS |"
        + "".join(f" DuckDB {name} | peak RSS | ratio |" for name, _, _ in sides)
    )
    print("|---|---|---|---|" + "---|---|---|" * len(sides))
    for scale, events, ours, theirs in results:
        print(
            f"| {scale} | {events / 1e6:.1f} M | {ours[0]:.1f} s | {ours[1]:.0f} MiB |"
            + "".join(
                f" {side[0]:.1f} s | {side[1]:.0f} MiB | {ours[0] / side[0]:.2f} |" for side in theirs
            )
        )


if __name__ == "__main__":
    main()
