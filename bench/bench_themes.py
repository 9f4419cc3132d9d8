"""Theme-choice benchmark: the same send with every subscriber on the whole issue, and with
20 distinct theme selections spread over the list (issue 9's bar: within 10%).

A ~60 KB issue (26 generated items over six themes) goes to 10,000 generated recipients
in Postfix's `smtp-sink` on 127.0.0.1 over 16 connections (Debian package `postfix`,
installed if missing; no daemon needed), through `prepare_send` + `send_issue` exactly as
`newsletter send --yes --smtp-host 127.0.0.1` does, timed after the build (as in
`bench/bench_send.py`). The contenders take turns, each run in a fresh interpreter:

- `plain`: nobody chose themes, everyone gets the whole issue;
- `one`: everyone chose the same three themes: one smaller version, rendered once;
- `themed`: 20 distinct selections (pairs and fours, three themes on average) spread
  over the list: 20 versions, each rendered and inlined once.

Themed messages are smaller than the whole issue (each has only its sections), so
`themed` against `one` (the same average size) is the cost of the variants themselves;
`themed` against `plain` is what the officer sees. Per run: wall time, msgs/s, the time
`prepare_send` took (where the variants are rendered), renders and mean message body.

Run: `python bench/bench_themes.py` (`--recipients N`, `--repeat N`, `--selections N`).
Results also go to bench/results/themes.json.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_send import REPO, THEMES, free_port, start_sink, write_items


def selections(count: int) -> list[str]:
    """`count` distinct selections averaging three themes (pairs and fours alternate), as CSV cells."""
    pairs = [";".join(c) for c in itertools.combinations(THEMES, 2)]
    fours = [";".join(c) for c in itertools.combinations(THEMES, 4)]
    found = [cell for pair in zip(pairs, fours, strict=True) for cell in pair]
    if count > len(found):
        raise SystemExit(f"at most {len(found)} selections")
    return found[:count]


ONE = "Domestic abuse;Online safety;Youth violence"  # three themes: the same average size as `selections`


def make_project(root: Path, items: int, recipients: int, cells: list[str]) -> None:
    """The send benchmark's items, and a CSV whose themes column cycles through `cells`."""
    write_items(root, items)
    with open(root / "subscribers.csv", "w", encoding="utf-8") as fh:
        fh.write("email,name,themes\n")
        for i in range(recipients):
            cell = cells[i % len(cells)] if cells else ""
            fh.write(f"reader{i}@example{i % 97}.org,Reader Number {i},{cell}\n")


def child(project: Path, port: int, connections: int) -> dict[str, Any]:
    """One send, timed after the build: prepare (themes, variants) + send, into the sink."""
    from newsletter import journal
    from newsletter.audience import resolve
    from newsletter.config import load_config
    from newsletter.daterange import parse_range
    from newsletter.issue import build_issue, variants
    from newsletter.send import prepare_send, send_issue

    os.environ.setdefault("NEWSLETTER_TOKEN_SECRET", "bench-secret")
    config = load_config(project / "newsletter.yaml")
    result = build_issue(config, parse_range("2023-07", None, None))
    renders = 0
    render = variants.render_issue

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal renders
        renders += 1
        return render(*args, **kwargs)

    variants.render_issue = counting  # type: ignore[assignment]
    wall0, cpu0 = time.perf_counter(), time.process_time()
    with contextlib.closing(journal.connect(config.state)) as db:
        audience = resolve(config, project / "subscribers.csv", db)
    plan = prepare_send(config, result, audience, smtp_host="127.0.0.1", smtp_port=port,
                        concurrency=connections)
    prepared = time.perf_counter() - wall0
    report = send_issue(plan, handle_signals=False)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    assert plan.variants is not None
    sizes = {key: len(plan.variants.rendered(key).html) + len(plan.variants.rendered(key).text)
             for key in plan.variants.keys}
    body = statistics.mean(sizes[plan.variants.key(s.themes)] for s in plan.subscribers.subscribers)
    problem = report.stopped or (report.failures[0].reply if report.failures else "")
    return {"sent": report.sent, "problem": problem, "wall": wall, "cpu": cpu, "prepare": prepared, "renders": renders,
            "versions": len(plan.variants.keys), "body_kb": body / 1024}


def run_child(project: Path, port: int, connections: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", str(project), "--port", str(port),
                          "--connections", str(connections)], capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    if out.returncode != 0:
        raise SystemExit(f"the send failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench(recipients: int, connections: int, items: int, count: int, repeat: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"plain": [], "one": [], "themed": []}
    with tempfile.TemporaryDirectory(prefix="bench-themes-") as tmp:
        projects = {kind: Path(tmp) / kind for kind in runs}
        make_project(projects["plain"], items, recipients, [])
        make_project(projects["one"], items, recipients, [ONE])
        make_project(projects["themed"], items, recipients, selections(count))
        port = free_port()
        sink = start_sink(port)
        try:
            for _ in range(repeat):
                for kind, project in projects.items():
                    (project / "newsletter.db").unlink(missing_ok=True)  # a fresh run each time
                    for wal in project.glob("newsletter.db-*"):
                        wal.unlink()
                    result = run_child(project, port, connections)
                    if result["sent"] != recipients:
                        raise SystemExit(f"{kind}: sent {result['sent']} of {recipients}: {result['problem']}")
                    runs[kind].append(result)
                    print(f"{kind:7} {result['wall']:6.2f} s  {recipients / result['wall']:6,.0f} msgs/s  "
                          f"CPU {result['cpu']:5.2f} s  "
                          f"prepare {result['prepare']:.2f} s  {result['versions']} versions "
                          f"({result['renders']} renders)  body {result['body_kb']:.0f} KB", flush=True)
        finally:
            sink.terminate()
            sink.wait(10)
    return {"recipients": recipients, "connections": connections, "selections": count, "runs": runs}


def show(result: dict[str, Any]) -> None:
    def median(kind: str, field: str) -> float:
        return statistics.median(r[field] for r in result["runs"][kind])

    n = result["recipients"]
    print(f"\n{n:,} recipients, {result['connections']} connections, median of {len(result['runs']['plain'])}:")
    labels = {"plain": "whole issue for all", "one": "one 3-theme selection",
              "themed": f"{result['selections']} selections"}
    for kind, label in labels.items():
        wall = median(kind, "wall")
        print(f"  {label:22} {wall:6.2f} s {n / wall:7,.0f} msgs/s  CPU {median(kind, 'cpu') / n * 1e6:4.0f} us/msg  "
              f"prepare {median(kind, 'prepare'):.2f} s  mean body {median(kind, 'body_kb'):.0f} KB")
    for field, what in (("wall", "time"), ("cpu", "sender CPU")):
        themed, one, plain = median("themed", field), median("one", field), median("plain", field)
        print(f"  {what}: themed / one {themed / one - 1:+.1%} (the cost of {result['selections']} variants at "
              f"the same size); themed / plain {themed / plain - 1:+.1%}")
    print(f"  rendering the variants: {median('themed', 'prepare') - median('one', 'prepare'):+.2f} s in prepare")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--items", type=int, default=26, help="items in the issue (26 = about 60 KB)")
    parser.add_argument("--selections", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.port, args.connections)))
        return
    result = bench(args.recipients, args.connections, args.items, args.selections, args.repeat)
    show(result)
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "themes.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
