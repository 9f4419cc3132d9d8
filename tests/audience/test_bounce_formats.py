"""Issue 27: the formats real servers send, and hard only when the address is dead.

tests/data/bounces-world/ holds our own samples, one per format or cause (Sendmail V5
transcripts, DragonFly, OpenSMTPD, au/KDDI in ISO-2022-JP, Shift_JIS, Exchange and
Office 365 without a report, SES JSON, a DSN block naming two recipients; full
mailboxes, blocklists, DMARC and policy refusals that must stay soft; complaints,
delivered notices and auto-replies that are not bounces). expected.json says what each
one is and which addresses are hard or soft.
"""

from __future__ import annotations

import email
import json
from pathlib import Path

import pytest

from newsletter.audience.bouncekind import classify
from newsletter.audience.bounceparse import read_message

WORLD = Path(__file__).resolve().parents[1] / "data" / "bounces-world"
EXPECTED = {k: v for k, v in json.loads((WORLD / "expected.json").read_text(encoding="utf-8")).items()}


def reading(name: str) -> tuple[str, dict[str, set[str]]]:
    found = read_message(email.message_from_bytes((WORLD / name).read_bytes()))
    kinds: dict[str, set[str]] = {"hard": set(), "soft": set()}
    for failure in found.bounce.final if found.bounce else ():
        kinds[failure.kind].add(failure.recipient)
    return found.kind, kinds


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_sample_is_read_as_expected(name: str) -> None:
    want = EXPECTED[name]
    kind, kinds = reading(name)
    assert (kind, kinds) == (want["kind"], {"hard": set(want["hard"]), "soft": set(want["soft"])})


def test_score_on_our_samples(artifacts: Path) -> None:
    """Every hard bounce found, every address called hard really hard, no complaint,
    delivered notice or auto-reply read as a bounce."""
    found = extra = missed = 0
    lines = []
    for name, want in sorted(EXPECTED.items()):
        kind, kinds = reading(name)
        found += len(kinds["hard"] & set(want["hard"]))
        extra += len(kinds["hard"] - set(want["hard"]))
        missed += len(set(want["hard"]) - kinds["hard"])
        lines.append(f"{name}: {kind} hard={sorted(kinds['hard'])} soft={sorted(kinds['soft'])}")
    recall, precision = found / (found + missed), found / ((found + extra) or 1)
    lines.append(f"hard: {found} found, {missed} missed, {extra} wrongly hard; "
                 f"recall {recall:.1%}, precision {precision:.1%}")
    (artifacts / "bounces-world.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert found >= 14 and recall >= 0.95 and precision >= 0.99
    assert not [n for n, w in EXPECTED.items() if w["kind"] != "bounce" and reading(n)[1] != {"hard": set(), "soft": set()}]


@pytest.mark.parametrize(("status", "words", "kind"), [
    ("5.2.2", "552 5.2.2 Mailbox full", "soft"),
    ("5.7.1", "554 5.7.1 Service unavailable; blocked using bl.spamcop.net", "soft"),
    ("5.1.1", "550 5.1.1 The email account that you tried to reach does not exist", "hard"),
    ("5.1.1", "550 5.1.1 rejected: your IP is listed on a blocklist", "soft"),  # servers that say 5.1.1 to all
    ("4.2.2", "452 4.2.2 over quota", "soft"),
    ("5.0.0", "550 Requested action not taken: mailbox unavailable", "hard"),
    ("5.0.0", "550 Rejected by policy: too many recipients", "soft"),
    (None, "553 sorry, that domain isn't in my list of allowed rcpthosts", "hard"),
    (None, "550 Mailbox quota exceeded", "soft"),
    (None, "421 Service not available, closing transmission channel", "soft"),
    ("5.1.6", "551 User has moved; please try <new@example.org>", "hard"),
    ("5.1.10", "556 Domain does not accept mail", "hard"),
    ("5.1.8", "553 5.1.8 Sender address domain does not exist", "soft"),
    ("5.4.4", "Host or domain name not found. Name service error: Host not found", "hard"),
    ("5.4.4", "unable to route: no route to host", "soft"),
    ("5.5.0", "550 5.5.0 Requested action not taken: mailbox unavailable", "hard"),
    ("5.7.26", "550 5.7.26 Unauthenticated email is not accepted due to DMARC", "soft"),
    (None, "550 Administrative prohibition", "soft"),
    (None, "554 Transaction failed", "soft"),  # a server's words that name no cause: not proof
    (None, "Delivery to the following recipients failed permanently: ann@example.com", "hard"),  # no words at all
    (None, "554 delivery error: dd This user doesn't have a yahoo.example account", "hard"),
    (None, "554 delivery error: dd Sorry your message cannot be delivered. This account has been disabled or "
           "discontinued", "hard"),
    (None, "554 delivery error: dd This mailbox is disabled (554.30)", "soft"),
])
def test_classification_follows_rfc3463_then_the_words(status: str | None, words: str, kind: str) -> None:
    assert classify(status, words)[0] == kind
