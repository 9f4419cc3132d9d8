"""Bounce recognition benchmark: recall and precision of hard (and soft) bounces on
Mailman's corpus (the real-world messages in flufl.bounce's test suite, copied into
tests/data/mailman/ with the expected addresses in expected.json).

Every message is read with `bounceparse.parse_bounce`, exactly as `newsletter bounces scan`
reads a mailbox; each (message, address, hard/soft) it reports is compared with what
Mailman's tests expect. Run: `python bench/bench_bounces.py` (`--misses` lists every
difference). Prints one table; exits 1 below the goal (95% recall and precision of hard bounces).
"""

from __future__ import annotations

import argparse
import email
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from newsletter.audience import parse_bounce

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "mailman"
GOAL = 0.95


@dataclass
class Score:
    """Counts of (message, address) pairs for one kind (hard or soft)."""

    found: int = 0  # reported and expected
    extra: list[str] = field(default_factory=list)  # reported, not expected
    missed: list[str] = field(default_factory=list)  # expected, not reported

    @property
    def recall(self) -> float:
        return self.found / ((self.found + len(self.missed)) or 1)

    @property
    def precision(self) -> float:
        return self.found / ((self.found + len(self.extra)) or 1)


def score_corpus(corpus: Path = CORPUS) -> tuple[dict[str, Score], int]:
    """{"hard": Score, "soft": Score} over every message of the corpus, and the message count."""
    expected = json.loads((corpus / "expected.json").read_text(encoding="utf-8"))
    scores = {"hard": Score(), "soft": Score()}
    for name, want in sorted(expected.items()):
        parsed = parse_bounce(email.message_from_bytes((corpus / name).read_bytes()))
        got = {"hard": set(), "soft": set()}
        for failure in parsed.failures if parsed else ():
            got[failure.kind].add(failure.recipient)
        for kind, key in (("hard", "permanent"), ("soft", "temporary")):
            wanted = set(want[key])
            scores[kind].found += len(got[kind] & wanted)
            scores[kind].extra += [f"{name}: {a}" for a in sorted(got[kind] - wanted)]
            scores[kind].missed += [f"{name}: {a}" for a in sorted(wanted - got[kind])]
    return scores, len(expected)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list every extra and missed address")
    args = parser.parse_args()
    start = time.perf_counter()
    scores, messages = score_corpus()
    elapsed = time.perf_counter() - start
    print(f"Mailman's corpus: {messages} messages, {elapsed * 1000 / messages:.1f} ms per message")
    print(f"{'':6} {'expected':>9} {'found':>6} {'extra':>6} {'recall':>7} {'precision':>9}")
    for kind, s in scores.items():
        print(f"{kind:6} {s.found + len(s.missed):9} {s.found:6} {len(s.extra):6} "
              f"{s.recall:7.1%} {s.precision:9.1%}")
        if args.misses:
            for line in s.missed:
                print(f"    missed {line}")
            for line in s.extra:
                print(f"    extra  {line}")
    hard = scores["hard"]
    return 0 if hard.recall >= GOAL and hard.precision >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
