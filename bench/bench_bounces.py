"""Bounce recognition benchmark: recall and precision of hard (and soft) bounces on
Mailman's corpus (the real-world messages in flufl.bounce's test suite, copied into
tests/data/mailman/ with the expected addresses in expected.json).

Mailman calls a full mailbox or a quota a permanent failure; RFC 3463 (and newsletter)
call it soft: those addresses, listed with the server's words in `rfc3463.json`, are
expected as soft here. Every message is read with `bounceparse.parse_bounce`, exactly as `newsletter bounces scan`
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

from newsletter.audience import parse_bounce, read_message

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "mailman"
WORLD = CORPUS.parent / "bounces-world"
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


def soft_by_rfc3463(corpus: Path = CORPUS) -> dict[str, dict[str, str]]:
    """{message: {address: why}}: Mailman's permanent failures that are soft by RFC 3463
    (a full mailbox, a quota, a relay refusal: rfc3463.json beside the corpus)."""
    path = corpus / "rfc3463.json"
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return {k: v for k, v in data.items() if not k.startswith("_")}


def score_corpus(corpus: Path = CORPUS) -> tuple[dict[str, Score], int]:
    """{"hard": Score, "soft": Score} over every message of the corpus, and the message count."""
    expected = json.loads((corpus / "expected.json").read_text(encoding="utf-8"))
    soft_here = soft_by_rfc3463(corpus)
    scores = {"hard": Score(), "soft": Score()}
    for name, mailman in sorted(expected.items()):
        moved = set(soft_here.get(name, {}))
        want = {"permanent": sorted(set(mailman["permanent"]) - moved),
                "temporary": sorted(set(mailman["temporary"]) | moved)}
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


def score_world(folder: Path = WORLD) -> tuple[Score, int]:
    """Hard bounces over our own samples of each format (expected.json beside them); a
    complaint, auto-reply or delivered notice read as any bounce counts as an extra."""
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    score = Score()
    for name, want in sorted(expected.items()):
        found = read_message(email.message_from_bytes((folder / name).read_bytes()))
        hard = {f.recipient for f in found.bounce.final if f.kind == "hard"} if found.bounce else set()
        score.found += len(hard & set(want["hard"]))
        score.extra += [f"{name}: {a}" for a in sorted(hard - set(want["hard"]))]
        score.extra += [f"{name}: read as {found.kind}"] if found.kind != want["kind"] else []
        score.missed += [f"{name}: {a}" for a in sorted(set(want["hard"]) - hard)]
    return score, len(expected)


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
    world, count = score_world()
    print(f"Our samples (tests/data/bounces-world): {count} messages")
    print(f"{'hard':6} {world.found + len(world.missed):9} {world.found:6} {len(world.extra):6} "
          f"{world.recall:7.1%} {world.precision:9.1%}")
    for line in ([f"    missed {m}" for m in world.missed] + [f"    extra  {e}" for e in world.extra]) if args.misses else []:
        print(line)
    hard = scores["hard"]
    return 0 if hard.recall >= GOAL and hard.precision >= GOAL and world.recall >= GOAL and not world.extra else 1


if __name__ == "__main__":
    sys.exit(main())
