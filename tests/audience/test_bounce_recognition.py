"""Issue 20: what a bounce says, scored on Mailman's corpus (flufl.bounce's real-world test
messages, tests/data/mailman/), the project's own samples, and auto-replies that must never
count as bounces.

The score is the same as `bench/bench_bounces.py` prints. Twenty-six corpus addresses
differ from Mailman on purpose (issue 27): Mailman calls a full mailbox, a quota, a relay
or content refusal, a mail loop or a host unreachable for days a permanent failure; RFC 3463 calls them soft, and so do
we (counted toward `bounces.soft_limit`). They are listed with the server's words in
tests/data/mailman/rfc3463.json.
"""

from __future__ import annotations

import email
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter.audience.bounceparse import parse_bounce
from newsletter.cli import main
from newsletter.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_bounces import score_corpus, soft_by_rfc3463  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1] / "data" / "mailman"
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "bounces"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
# Permanent for Mailman, soft by RFC 3463 (see the module docstring).
SOFT_ON_PURPOSE = soft_by_rfc3463(CORPUS)


def kinds(raw: bytes) -> dict[str, set[str]]:
    parsed = parse_bounce(email.message_from_bytes(raw))
    found: dict[str, set[str]] = {"hard": set(), "soft": set()}
    for failure in parsed.failures if parsed else ():
        found[failure.kind].add(failure.recipient)
    return found


def test_hard_bounce_recall_and_precision_on_mailmans_corpus(artifacts: Path) -> None:
    scores, messages = score_corpus(CORPUS)
    hard, soft = scores["hard"], scores["soft"]
    report = [f"Mailman's corpus (flufl.bounce 6.0.0 test data): {messages} messages"]
    for kind, s in scores.items():
        report.append(f"{kind}: {s.found} of {s.found + len(s.missed)} found, {len(s.extra)} extra; "
                      f"recall {s.recall:.1%}, precision {s.precision:.1%}")
        report += [f"  missed {m}" for m in s.missed] + [f"  extra  {e}" for e in s.extra]
    (artifacts / "bounces-mailman.txt").write_text("\n".join(report) + "\n", encoding="utf-8")
    print("\n".join(report))
    assert messages == 117
    # issue 27's goal on this corpus is 95% each, with a full mailbox soft
    assert (hard.found, len(hard.missed), len(hard.extra)) == (96, 0, 0)
    assert (soft.found, soft.missed, soft.extra) == (37, [], [])
    assert sum(len(v) for v in SOFT_ON_PURPOSE.values()) == 26


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_corpus_message_names_the_addresses_mailman_expects(name: str) -> None:
    want = EXPECTED[name]
    moved = set(SOFT_ON_PURPOSE.get(name, {}))
    found = kinds((CORPUS / name).read_bytes())
    assert found == {"hard": set(want["permanent"]) - moved, "soft": set(want["temporary"]) | moved}
    if moved:
        parsed = parse_bounce(email.message_from_bytes((CORPUS / name).read_bytes()))
        assert parsed is not None and not parsed.delayed  # the server gave up: a soft bounce, not a warning


def test_corpus_warnings_are_delay_warnings_not_bounces() -> None:
    """Mailman's temporary failures are warnings ("will keep trying"): nothing to record yet."""
    for name, want in EXPECTED.items():
        if want["temporary"]:
            parsed = parse_bounce(email.message_from_bytes((CORPUS / name).read_bytes()))
            assert parsed is not None and parsed.delayed, name


def test_the_projects_own_samples() -> None:
    found = {p.name: parse_bounce(email.message_from_bytes(p.read_bytes())) for p in sorted(SAMPLES.glob("*.eml"))}
    summary = {name: sorted((f.recipient, f.kind, f.status, f.delayed) for f in p.failures) if p else None
               for name, p in found.items()}
    assert summary == {
        "exim-hard.eml": [("bob@example.net", "hard", "5.1.1", False)],
        "gmail-hard.eml": [("carol@example.com", "hard", "5.1.1", False)],
        "out-of-office.eml": None,
        "postfix-delayed.eml": [("frank@example.com", "soft", "4.4.1", True)],
        "postfix-hard.eml": [("alice@example.com", "hard", "5.1.1", False)],
        "postfix-soft.eml": [("erin@example.com", "soft", "4.2.2", False)],
        "qmail-plain.eml": [("dave@example.net", "hard", "5.1.1", False)],
        "unknown-recipient.eml": [("stranger@example.com", "hard", "5.1.1", False)],
    }
    assert found["postfix-hard.eml"].original_ids == ("<nl1.a11ce00000000000001@example.org>",)
    assert found["gmail-hard.eml"].original_ids == ("<nl1.ca201000000000000003@example.org>",)


AUTO_REPLIES = {
    "automatic reply": ("Subject: Automatic reply: Safeguarding digest\nAuto-Submitted: auto-replied\n",
                        "I am away until Monday. Messages to old@example.com are not read: 550 5.1.1."),
    "out of office": ("Subject: Out of Office: Safeguarding digest\nX-Autoreply: yes\n",
                      "I'm out of the office. Your message could not be delivered to me in person."),
    "vacation": ("Subject: Re: Safeguarding digest\nAuto-Submitted: auto-replied\nPrecedence: junk\n",
                 "I am on vacation. This mailbox does not exist any more, write to new@example.com."),
    "german": ("Subject: Abwesenheitsnotiz: Safeguarding digest\nAuto-Submitted: auto-replied\n",
               "Ich bin nicht im Buero. User unknown? Nein."),
    "autoresponder": ("Subject: Thanks for your message\nX-Autorespond: yes\n",
                      "We received your message and will reply within 2 days."),
}


@pytest.mark.parametrize("name", sorted(AUTO_REPLIES))
def test_auto_replies_and_out_of_office_are_never_bounces(name: str) -> None:
    headers, body = AUTO_REPLIES[name]
    raw = (f"Return-Path: <person@example.com>\nFrom: A Person <person@example.com>\nTo: digest@example.org\n"
           f"{headers}In-Reply-To: <nl1.abc@example.org>\n\n{body}\n").encode()
    assert parse_bounce(email.message_from_bytes(raw)) is None


def test_scan_json_on_the_corpus_names_every_expected_address(config: Config) -> None:
    """`bounces scan --json` on a folder of message files: one object per message, nothing matched
    (nothing was sent), and every address Mailman expects named with its kind."""
    result = CliRunner().invoke(main, ["bounces", "scan", "--json", str(CORPUS), "--config", str(config.path)])
    assert result.exit_code == 0, result.output
    objects = {Path(o["file"]).name: o for o in json.loads(result.output)}
    assert set(objects) == set(EXPECTED) | {"expected.json", "rfc3463.json", "LICENSE", "NOTICE.md"}
    for name, want in EXPECTED.items():
        named = {(f["address"], f["kind"]) for f in objects[name]["failures"]}
        expected = {(a, "soft" if a in SOFT_ON_PURPOSE.get(name, {}) else "hard") for a in want["permanent"]}
        assert named >= expected | {(a, "soft") for a in want["temporary"]}, name
        assert objects[name]["matched"] == []
    assert not (config.root / "newsletter.db").exists()  # a scan creates no state file


def test_a_message_that_trips_a_detector_does_not_stop_the_scan(capsys: pytest.CaptureFixture[str]) -> None:
    """flufl.bounce 6.0's Yale detector raises on a message without From; our DSN reading stands."""
    raw = (SAMPLES / "postfix-hard.eml").read_bytes().replace(b"From: MAILER-DAEMON@mail.example.org "
                                                              b"(Mail Delivery System)\n", b"")
    assert b"\nFrom:" not in raw.partition(b"\n\n")[0]
    assert kinds(raw) == {"hard": {"alice@example.com"}, "soft": set()}
    assert parse_bounce(email.message_from_bytes(b"Subject: no sender, no bounce\n\nhello\n")) is None
    assert "Traceback" not in capsys.readouterr().err
