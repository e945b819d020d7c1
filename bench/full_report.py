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
4. with `--trend`, runs DuckDB again for the same nine figures of every
   week of the report's 12-week trend, one week after another as a user
   would, in one process: the like-for-like side of the report's trend;
5. prints them side by side with the ratios (clientpulse's whole report
   over DuckDB's one week, and over its twelve weeks: below 1.0 is
   faster) and checks that DuckDB's figures equal the report's (with
   `--trend`, all 108: every week of the nine metrics' trends).

Usage (from the repository's root):

    cargo build --release
    python3 bench/full_report.py                 # 16, 160, 1600
    python3 bench/full_report.py --scales 16,160 --repeat 3
    python3 bench/full_report.py --trend         # DuckDB for all 12 weeks too

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


def clientpulse(binary, path, out):
    """The full report over `path`: (seconds, peak MiB, stages, report,
    profile), the profile being the run's own `--profile` lines."""
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out, exist_ok=True)
    profile_path = os.path.join(out, "profile.jsonl")
    command = [
        binary,
        "run",
        "--config",
        os.path.join(ROOT, "config", "clientpulse.yaml"),
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


def week_end(weeks_back):
    """The end of the week `weeks_back` weeks before the report's, as
    DuckDB SQL: 0 is the report's week, 11 the first of its trend."""
    end = datetime.datetime.fromisoformat(WEEK_END) - datetime.timedelta(weeks=weeks_back)
    return f"TIMESTAMPTZ '{end.isoformat(sep=' ')}'"


def duckdb_worker(path, result_file, weeks):
    """Computes DUCKDB_SQL over `path` for the report's week and the
    `weeks - 1` before it, one week after another, as a user would for a
    trend; writes a list of {metric: value} as JSON, the report's week
    first."""
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("SET threads = 2")
    by_week = [duckdb_week(connection, path, week_end(back)) for back in range(int(weeks))]
    with open(result_file, "w") as file:
        json.dump(
            [{k: (None if v is None else float(v)) for k, v in week.items()} for week in by_week],
            file,
        )


def duckdb_week(connection, path, end):
    """DUCKDB_SQL's figures of the week ending `end` (DuckDB SQL)."""
    start30 = f"({end} - INTERVAL 30 DAY)"
    row_mrr = ROW_MRR.format(wh=path)
    mrr_at_end = MRR_AT.format(row_mrr=row_mrr, at=end)
    figures = {}
    for metric, sql in DUCKDB_SQL.items():
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


def duckdb_run(path, weeks=1):
    """DuckDB's figures over `path` for the report's week and the
    `weeks - 1` before it: (seconds, peak MiB, figures by week, the
    report's week first)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--duckdb-worker",
            path,
            result.name,
            str(weeks),
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
    parser.add_argument("--duckdb-worker", nargs=3, metavar=("WAREHOUSE", "RESULT", "WEEKS"))
    args = parser.parse_args()
    ensure_duckdb()
    if args.duckdb_worker:
        duckdb_worker(*args.duckdb_worker)
        return
    if not os.path.exists(args.bin):
        sys.exit(f"no binary at {args.bin}: run `cargo build --release` first")
    trend_weeks = 12 if args.trend else 0
    results = []
    for scale in [int(s) for s in args.scales.split(",") if s.strip()]:
        path = warehouse(args.bin, scale)
        rows = table_rows(path)
        print(f"\nscale {scale}: " + ", ".join(f"{t} {n:,}" for t, n in rows.items()), flush=True)
        out = os.path.join(BENCH, "out", f"scale-{scale}")
        best = None
        for _ in range(max(1, args.repeat)):
            ours = clientpulse(args.bin, path, out)
            theirs = duckdb_run(path)
            print(
                f"  clientpulse full report {ours[0]:6.1f} s, peak {ours[1]:6.0f} MiB"
                f" | duckdb one week {theirs[0]:6.1f} s, peak {theirs[1]:6.0f} MiB"
                f" | ratio {ours[0] / theirs[0]:.2f}",
                flush=True,
            )
            trend = duckdb_run(path, trend_weeks) if trend_weeks else None
            if trend:
                print(
                    f"  duckdb the same nine figures for each of the trend's {trend_weeks} weeks"
                    f" {trend[0]:6.1f} s, peak {trend[1]:6.0f} MiB | ratio {ours[0] / trend[0]:.2f}",
                    flush=True,
                )
            print(f"    stages: {ours[2]}", flush=True)
            for line in profile_summary(ours[4]):
                print(line, flush=True)
            if best is None or ours[0] < best[0][0]:
                best = (ours, theirs, trend)
        ours, theirs, trend = best
        compared, differ = agreement(ours[3], (trend or theirs)[2])
        print(
            "  figures: "
            + (f"DuckDB agrees on all {compared}" if not differ else "DIFFER: " + "; ".join(differ)),
            flush=True,
        )
        results.append((scale, rows.get("usage_events", 0), ours, theirs, trend))
    print(
        "\n| scale | usage events | clientpulse full report | peak RSS | DuckDB one week | peak RSS | ratio |"
        + (f" DuckDB {trend_weeks} weeks | ratio |" if trend_weeks else "")
    )
    print("|---|---|---|---|---|---|---|" + ("---|---|" if trend_weeks else ""))
    for scale, events, ours, theirs, trend in results:
        print(
            f"| {scale} | {events / 1e6:.1f} M | {ours[0]:.1f} s | {ours[1]:.0f} MiB"
            f" | {theirs[0]:.1f} s | {theirs[1]:.0f} MiB | {ours[0] / theirs[0]:.2f} |"
            + (f" {trend[0]:.1f} s | {ours[0] / trend[0]:.2f} |" if trend else "")
        )


if __name__ == "__main__":
    main()
