#!/usr/bin/env python3
"""The full report from an S3-compatible server and from local disk, on the
same generated warehouse: times side by side, and the S3 requests of each
run by kind (LIST, GET, HEAD, PUT), counted by the server itself.

It shows that a run's requests do not grow with the number of metrics or
trend weeks: one listing per table and one GET per file, whether the run
computes one metric for one week or the whole shipped config for a
four-week backfill.

Usage (from the repository's root):

    bash .ci/test --no-run          # once: installs moto into target/test-venv
    cargo build --release
    target/test-venv/bin/python bench/s3_vs_disk.py [--scale 10] [--repeat 3]

Needs only Python 3 with moto[server] and boto3 (target/test-venv has
both), and the binary (`--bin`, default target/release/clientpulse).
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import boto3
import yaml

REPO = Path(__file__).resolve().parent.parent
END = "2026-11-23"
WEEK = "2026-W47"
BACKFILL = ["--from", "2026-W44", "--to", WEEK]
REQUEST = re.compile(r'"(GET|HEAD|PUT|POST|DELETE) (\S+) HTTP/1\.1"')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(log_path):
    port = free_port()
    moto = shutil.which("moto_server") or str(REPO / "target/test-venv/bin/moto_server")
    log = open(log_path, "wb")
    child = subprocess.Popen(
        [moto, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return child, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    child.kill()
    sys.exit("moto_server did not start")


def requests_in(log_path, offset):
    """The requests the server logged after `offset` bytes, by kind."""
    with open(log_path, "rb") as log:
        log.seek(offset)
        text = log.read().decode("utf-8", "replace")
    counts = Counter()
    for method, target in REQUEST.findall(text):
        counts["LIST" if method == "GET" and "list-type=" in target else method] += 1
    return counts


def config_with(metrics, folder):
    """The shipped config with its paths made absolute and, if given, only
    `metrics` run."""
    shipped = REPO / "config/clientpulse.yaml"
    config = yaml.safe_load(shipped.read_text())
    for key in ("queries", "benchmarks", "templates"):
        config[key] = str((shipped.parent / config[key]).resolve())
    config["warehouse"] = {"root": "/nonexistent"}
    if metrics:
        config["metrics"] = [{"id": m} for m in metrics]
        for audience in config.get("audiences", []):
            audience.pop("metrics", None)
    path = folder / f"config-{len(metrics) or 'all'}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bin", default=str(REPO / "target/release/clientpulse"))
    args = parser.parse_args()
    binary = Path(args.bin)
    if not binary.exists():
        sys.exit(f"{binary} not found: run `cargo build --release` first (or give --bin)")

    work = Path(tempfile.mkdtemp(prefix="clientpulse-bench-"))
    log_path = work / "moto.log"
    moto, endpoint = start_moto(log_path)
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL=endpoint,
        AWS_ALLOW_HTTP="true",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION="us-east-1",
    )
    try:
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            region_name="us-east-1",
        ).create_bucket(Bucket="bench")
        local = work / "warehouse"
        for out in (str(local), "s3://bench/warehouse"):
            subprocess.run(
                [binary, "demo-data", "--out", out, "--scale", str(args.scale), "--end", END],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        files = sum(1 for _ in local.rglob("*.parquet"))
        size = sum(p.stat().st_size for p in local.rglob("*.parquet"))
        print(
            f"demo warehouse at scale {args.scale}: {files} Parquet files, {size / 1e6:.1f} MB, "
            f"on disk and in moto at {endpoint}\n"
        )

        runs = [
            ("disk, full config, 1 week", str(local), [], ["--period", WEEK]),
            ("S3, full config, 1 week", "s3://bench/warehouse", [], ["--period", WEEK]),
            ("S3, full config, 4 weeks", "s3://bench/warehouse", [], BACKFILL),
            ("S3, mrr only, 1 week", "s3://bench/warehouse", ["mrr"], ["--period", WEEK]),
            ("S3, 7 revenue metrics, 4 weeks", "s3://bench/warehouse",
             ["mrr", "arr", "arpc", "paying_clients", "new_mrr", "churned_mrr", "net_new_mrr"],
             BACKFILL),
        ]
        header = f"{'run':34} {'median s':>9} {'min s':>7}  {'LIST':>5} {'GET':>5} {'HEAD':>5} {'PUT':>5}"
        print(header)
        print("-" * len(header))
        for name, root, metrics, period in runs:
            config = config_with(metrics, work)
            times, counts = [], None
            for attempt in range(args.repeat):
                out = work / f"out-{len(times)}"
                offset = log_path.stat().st_size
                started = time.monotonic()
                result = subprocess.run(
                    [binary, "run", "--config", config, "--warehouse", root,
                     "--out", out, "--dry-run", *period],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                times.append(time.monotonic() - started)
                if result.returncode != 0:
                    sys.exit(f"{name}: exit {result.returncode}\n{result.stderr}")
                time.sleep(0.3)  # let the server flush its log
                seen = requests_in(log_path, offset)
                if counts is not None and seen != counts:
                    print(f"  note: {name}: requests differ between runs: {counts} vs {seen}")
                counts = seen
                shutil.rmtree(out, ignore_errors=True)
            print(
                f"{name:34} {statistics.median(times):9.2f} {min(times):7.2f}  "
                f"{counts['LIST']:5} {counts['GET']:5} {counts['HEAD']:5} {counts['PUT']:5}"
            )
        print(
            "\nEach S3 run lists each table it reads once and fetches each file once "
            "(the footer read of a small file is the whole file), whatever the number "
            "of metrics, trend weeks and segments."
        )
    finally:
        moto.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
