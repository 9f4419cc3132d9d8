"""State benchmark: the same 10,000-recipient send with the SQLite state and the PostgreSQL state.

`newsletter send` (as bench_send.py's `tool` contender: after the build, CSV to last
recipient recorded, no DKIM) into Postfix's `smtp-sink` on 127.0.0.1, once with the
default SQLite file beside the config and once with `NEWSLETTER_STATE` pointing at a
fresh database on a PostgreSQL cluster this script starts (`.ci/postgres`, with fsync on:
durable commits, as a real server makes them; reached over TCP on 127.0.0.1, as another
machine would reach it, not over the Unix socket). The contenders alternate, each in its
own process, each with an empty state; the best run of each counts.

Goal (issue 25): PostgreSQL at least 0.8x the SQLite rate. Exits 1 below it.

Run: `python bench/bench_state.py` (10,000 recipients, 3 runs each), `--recipients N`,
`--repeat N`, `--connections N`. Results also go to bench/results/state.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_send  # noqa: E402 - the sibling script's project, sink and child runner

REPO = bench_send.REPO
GOAL = 0.8


def start_cluster(folder: Path) -> dict[str, str]:
    """A PostgreSQL cluster of the benchmark's own; the variables .ci/postgres exports."""
    out = subprocess.run([str(REPO / ".ci" / "postgres"), "start", str(folder)], check=True, capture_output=True,
                         text=True, env={**os.environ, "PG_FSYNC": "on"}).stdout
    found: dict[str, str] = {}
    for line in out.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        found[name] = shlex.split(value)[0]
    return found


def fresh_database(admin: str) -> str:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.rsplit("/", 1)[0] + f"/{name}"


def one_run(kind: str, project: Path, port: int, recipients: int, connections: int, admin: str) -> dict[str, Any]:
    for leftover in project.glob("newsletter.db*"):
        leftover.unlink()
    if kind == "postgresql":
        os.environ["NEWSLETTER_STATE"] = fresh_database(admin)
    else:
        os.environ.pop("NEWSLETTER_STATE", None)
    try:
        return bench_send.run_child("tool", project, port, recipients, connections)
    finally:
        os.environ.pop("NEWSLETTER_STATE", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--items", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pg_dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        cluster = start_cluster(pg_dir)
        port = bench_send.free_port()
        sink = bench_send.start_sink(port)
        try:
            project = bench_send.make_project(root / "digest", args.items, args.recipients).parent
            runs: dict[str, list[dict[str, Any]]] = {"sqlite": [], "postgresql": []}
            for _ in range(args.repeat):
                for kind in runs:
                    runs[kind].append(one_run(kind, project, port, args.recipients, args.connections,
                                              cluster["NEWSLETTER_TEST_PG"]))
        finally:
            sink.terminate()
            subprocess.run([str(REPO / ".ci" / "postgres"), "stop", str(pg_dir)], check=False)
            subprocess.run(["rm", "-rf", str(pg_dir)], check=False)
    report(runs, args)


def report(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    rates = {kind: [r["messages"] / r["wall"] for r in done] for kind, done in runs.items()}
    best = {kind: max(values) for kind, values in rates.items()}
    print(f"{args.recipients:,} recipients, {args.connections} connections, best of {args.repeat}:\n")
    print("| state | msgs/s (best) | every run | CPU per message |")
    print("|---|---:|---|---:|")
    for kind, done in runs.items():
        cpu = min(r["cpu"] / r["messages"] for r in done) * 1e6
        every = " / ".join(f"{v:,.0f}" for v in rates[kind])
        print(f"| {kind} | {best[kind]:,.0f} | {every} | {cpu:,.0f} µs |")
    ratio = best["postgresql"] / best["sqlite"]
    print(f"\nPostgreSQL / SQLite: {ratio:.2f}x (goal {GOAL}x)")
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "state.json").write_text(json.dumps({"runs": runs, "ratio": ratio}, indent=2))
    if ratio < GOAL:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
