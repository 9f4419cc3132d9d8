"""Issue 14, point 7: addresses, list ids and names encode correctly or are refused at
their line; an over-long summary is an error at its line; a clipped email fails the build."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.utils import parseaddr
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.project import item_yaml

from newsletter.cli import main
from newsletter.config import load_config
from newsletter.daterange import parse_range
from newsletter.errors import NewsletterError
from newsletter.issue.build import build_issue
from newsletter.issue.items import load_items

JULY = parse_range("2023-07", None, None)
ENCODED_WORD = re.compile(rb"=\?[^?]+\?[bBqQ]\?[^?]*\?=")


def configure(project: Path, old: str, new: str) -> Path:
    path = project / "newsletter.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def line_of(path: Path, start: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.startswith(start))


def test_an_idn_sender_is_sent_in_punycode_with_its_name_in_short_folded_words(project: Path) -> None:
    long_name = "Bücherei-Team der Gemeinde Übermäßig-Lange-Grüße aus der schönen Bücherstube"
    configure(project, 'from: "Example Trust Learning <digest@example.org>"', f'from: "{long_name} <digest@bücher.de>"')
    config = load_config(project / "newsletter.yaml")
    assert config.sender_address == "digest@xn--bcher-kva.de"
    sample = build_issue(config, JULY, write=False).files["sample.eml"]
    head = sample.split(b"\r\n\r\n", 1)[0]
    words = ENCODED_WORD.findall(head)
    assert words and max(len(w) for w in words) <= 75
    raw_from = message_from_bytes(sample, policy=policy.compat32)["From"]
    name, address = parseaddr(str(make_header(decode_header(raw_from))))  # RFC 2047 decoding
    assert (name, address) == (long_name, "digest@xn--bcher-kva.de")
    from_lines = head.split(b"\r\nTo: ")[0].split(b"From: ", 1)[1].split(b"\r\n")
    assert len(from_lines) > 1 and all(len(line) <= 78 for line in from_lines)  # folded


def test_a_non_ascii_list_id_is_refused_at_its_line(project: Path) -> None:
    path = configure(project, "name: Safeguarding digest\n", "name: Safeguarding digest\nlist_id: digest.bücher.de\n")
    assert "list_id: digest.bücher.de" in path.read_text(encoding="utf-8")
    with pytest.raises(NewsletterError) as info:
        load_config(path)
    assert str(info.value) == (f"{path}:{line_of(path, 'list_id')}: list_id: not a list id: 'digest.bücher.de' "
                               "(use ASCII letters, digits, dots and dashes, e.g. digest.example.org)")


def test_a_non_ascii_local_part_in_reply_to_is_refused_at_its_line(project: Path) -> None:
    path = configure(project, 'reply_to: "Example Trust Learning <learning@example.org>"', 'reply_to: "Zoë <zoë@example.org>"')
    with pytest.raises(NewsletterError) as info:
        load_config(path)
    assert str(info.value) == (f"{path}:{line_of(path, 'reply_to')}: reply_to: the part before @ must be ASCII: "
                               "'zoë@example.org' (most mail servers refuse other letters there; use an ASCII address)")


def test_a_huge_summary_is_an_error_at_its_line(write_item, empty_project: Path) -> None:
    write_item(item_yaml(summary="x" * 20_001))
    with pytest.raises(NewsletterError) as info:
        load_items(empty_project / "items", root=empty_project)
    assert info.value.lines() == ["items/item.yaml:5: summary: is 20,001 characters long; the limit is 20,000 "
                                  "(shorten it to a paragraph or two and link to the full text)"]


def test_an_email_gmail_would_clip_fails_the_build(write_item, empty_project: Path) -> None:
    for n in range(8):
        write_item(item_yaml(title=f"Item {n}", url=f"https://example.org/{n}", summary="word " * 3_900),
                   f"item{n}.yaml")
    result = CliRunner().invoke(main, ["build", "2023-07", "--config", str(empty_project / "newsletter.yaml")])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert re.fullmatch(r"error: .*/issues/2023-07/email\.html: the email is \d+ KB as sent; Gmail clips it after 102 KB, "
                        r"cutting off the later sections and the unsubscribe link \(set `archive_url` to send a short "
                        r"excerpt linking to the issue online instead, or fewer items, shorter summaries\)", errors[0])
