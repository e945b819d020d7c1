#!/usr/bin/env python3
"""The full weekly report locally and on a Ballista cluster on loopback.

For one scale (default 16): the demo warehouse (made once, cached under
target/bench/warehouses/, as bench/full_report.py makes it), then the full
report of the shipped config over it (`--warehouse`, `--dry-run`):

1. on the local engine;
2. on a cluster of one `clientpulse scheduler` and one `clientpulse
   executor` on this machine (`--engine df://127.0.0.1:PORT`);
3. on the same scheduler with two executors;

and prints the three times side by side, with the cluster's start-up
(processes up and registered) apart, and whether every report.json holds
the local run's figures. The executors read the warehouse folder straight
from the disk they share with the run.

Usage (from the repository's root):

    cargo build --release --features ballista
    python3 bench/cluster.py                # scale 16
    python3 bench/cluster.py --scale 160 --tasks 2

Nothing here is a test: it prints numbers, it does not assert times.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The same cached warehouses, week and clock as the full-report bench.
from full_report import NOW, PERIOD, ROOT, warehouse  # noqa: E402


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, process, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{what} exited early (code {process.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not listen on port {port} in {timeout} s")


def report(binary, path, out, engine):
    """The full report on `engine`: (seconds, report.json)."""
    shutil.rmtree(out, ignore_errors=True)
    command = [
        binary, "run",
        "--config", os.path.join(ROOT, "config", "clientpulse.yaml"),
        "--warehouse", path,
        "--out", out,
        "--period", PERIOD,
        "--dry-run",
        "--now", NOW,
        "--engine", engine,
    ]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"the run on {engine} failed (exit {done.returncode}):\n{done.stderr}")
    with open(os.path.join(out, PERIOD, "report.json")) as file:
        return seconds, json.load(file)


class Cluster:
    """A scheduler and `executors` executors on loopback."""

    def __init__(self, binary, executors, tasks, logs):
        self.processes = []
        started = time.monotonic()
        self.port = free_port()
        scheduler = self.spawn(
            [binary, "scheduler", "--bind", f"127.0.0.1:{self.port}",
             "--external-host", "127.0.0.1"],
            os.path.join(logs, "scheduler.log"),
        )
        wait_for_port(self.port, scheduler, "the scheduler")
        for n in range(executors):
            flight = free_port()
            work = os.path.join(logs, f"executor-{n}")
            os.makedirs(work, exist_ok=True)
            executor = self.spawn(
                [binary, "executor", "--scheduler", f"127.0.0.1:{self.port}",
                 "--bind-host", "127.0.0.1", "--external-host", "127.0.0.1",
                 "--port", str(flight), "--grpc-port", str(free_port()),
                 "--concurrent-tasks", str(tasks), "--work-dir", work],
                os.path.join(logs, f"executor-{n}.log"),
            )
            wait_for_port(flight, executor, f"executor {n}")
        self.start_seconds = time.monotonic() - started

    def spawn(self, command, log):
        with open(log, "w") as file:
            process = subprocess.Popen(command, stdout=file, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def engine(self):
        return f"df://127.0.0.1:{self.port}"

    def stop(self):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=16)
    parser.add_argument("--tasks", type=int, default=os.cpu_count() or 2,
                        help="tasks each executor runs at once")
    parser.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "clientpulse"))
    args = parser.parse_args()
    if not os.path.exists(args.bin):
        sys.exit(f"{args.bin} is missing: cargo build --release --features ballista")
    path = warehouse(args.bin, args.scale)
    work = tempfile.mkdtemp(prefix="clientpulse-cluster-bench-")
    rows = []
    local_seconds, local = report(args.bin, path, os.path.join(work, "local"), "local")
    rows.append(("local", 0.0, local_seconds, True))
    for executors in (1, 2):
        logs = os.path.join(work, f"cluster-{executors}")
        os.makedirs(logs, exist_ok=True)
        cluster = Cluster(args.bin, executors, args.tasks, logs)
        try:
            seconds, on_cluster = report(
                args.bin, path, os.path.join(logs, "out"), cluster.engine()
            )
        finally:
            cluster.stop()
        same = on_cluster["metrics"] == local["metrics"]
        rows.append((f"{executors} executor{'s' if executors > 1 else ''}",
                     cluster.start_seconds, seconds, same))
    print(f"\nscale {args.scale}, {args.tasks} task(s) per executor, full report of the shipped config\n")
    print(f"| engine | cluster start | full report | vs local | same figures |")
    print(f"|---|---|---|---|---|")
    for name, start, seconds, same in rows:
        print(f"| {name} | {start:.1f} s | {seconds:.1f} s | {seconds / local_seconds:.1f}× | {'yes' if same else 'NO'} |")
    shutil.rmtree(work, ignore_errors=True)
    if not all(same for *_, same in rows):
        sys.exit("a cluster's figures differ from the local run's")


if __name__ == "__main__":
    main()
