"""Build benchmark: generated issues of 10, 40, 500 and 5,000 items.

For each size: the median wall time of a full build (load YAML files, select, group,
render, inline CSS, compose the sample message, write the issue folder), the share of it
spent inlining CSS, and the HTML bytes per item. Then the start-up time of
`newsletter --help` beside `python -c "import click"` (the floor any click CLI pays),
measured interleaved in one run. Run: `python bench/bench_build.py`
(add `--repeat N` for more runs per size; `--sizes 10,40` to choose sizes).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from newsletter.config import load_config
from newsletter.daterange import parse_range
from newsletter.issue import build_issue

REPO = Path(__file__).resolve().parent.parent
THEMES = ["Domestic abuse", "Child sexual exploitation", "Online safety", "Neglect", "Youth violence",
          "Information sharing"]
SUMMARY = ("{source} has published a {kind} on how services in England respond to children at risk. "
           "Drawing on case reviews and interviews with practitioners, it finds that **early help** is "
           "often offered too late, and that information is not always shared between agencies. It sets "
           "out what helps: clear roles, time for supervision, and listening to the child.")


def make_project(root: Path, count: int) -> Path:
    (root / "items").mkdir(parents=True)
    shutil.copy(REPO / "newsletter.yaml", root / "newsletter.yaml")
    for n in range(count):
        item = {
            "title": f"Learning from case reviews: report number {n} on practice with families",
            "date": f"2023-07-{1 + n % 31:02d}",
            "source": ["NSPCC Learning", "DfE", "Ofsted", "Research in Practice"][n % 4],
            "theme": THEMES[n % len(THEMES)],
            "summary": SUMMARY.format(source="Research in Practice", kind=["briefing", "report"][n % 2]),
            "links": [{"label": "Read the report", "title": f"Case review report {n}",
                       "url": f"https://example.org/reports/{n}"}],
        }
        if n % 3 == 0:
            item["see_also"] = [{"title": "Protecting children", "url": f"https://example.org/topics/{n}"}]
        if n % 10 == 0:
            item["image"] = {"src": f"https://example.org/img/{n}.jpg", "alt": "Practitioners in a meeting"}
        (root / "items" / f"item-{n:05d}.yaml").write_text(yaml.safe_dump(item, sort_keys=False))
    return root / "newsletter.yaml"


def measure(count: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(make_project(Path(tmp), count))
        july = parse_range("2023-07", None, None)
        times, inline = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            result = build_issue(config, july)
            times.append(time.perf_counter() - started)
            inline.append(result.rendered.inline_seconds)
        median = statistics.median(times)
        return {
            "items": count,
            "median_s": median,
            "inline_share": statistics.median(inline) / median,
            "html_bytes": result.rendered.html_bytes,
            "bytes_per_item": result.rendered.html_bytes / count,
        }


def startup(repeat: int) -> tuple[float, float]:
    """Best-of-N wall time of `newsletter --help` and of bare `import click`, interleaved."""
    ours, click_only = [], []
    for _ in range(repeat):
        for command, times in (([sys.executable, "-m", "newsletter", "--help"], ours),
                               ([sys.executable, "-c", "import click"], click_only)):
            started = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - started)
    return min(ours), min(click_only)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,40,500,5000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'items':>6} {'median build':>13} {'inlining':>9} {'HTML':>9} {'bytes/item':>11}")
    for size in (int(s) for s in args.sizes.split(",")):
        r = measure(size, args.repeat if size <= 500 else max(1, args.repeat // 2))
        print(f"{r['items']:>6} {r['median_s'] * 1000:>10.0f} ms {r['inline_share']:>8.0%} "
              f"{r['html_bytes'] / 1024:>6.0f} KB {r['bytes_per_item']:>11.0f}")
    ours, click_only = startup(max(5, args.repeat))
    print(f"start-up: newsletter --help {ours * 1000:.0f} ms, python -c 'import click' "
          f"{click_only * 1000:.0f} ms ({ours / click_only:.2f}x)")


if __name__ == "__main__":
    main()
