"""Per-recipient messages: encoding, header injection, slots across line wraps."""

from __future__ import annotations

import email
import email.policy

import pytest

from newsletter.daterange import parse_range
from newsletter.issue.build import prepare_issue
from newsletter.issue.compose import Recipient, compile_message, fill, greeting, greeting_name
from newsletter.issue.render import render_issue


@pytest.fixture
def template(config):
    rendered = render_issue(prepare_issue(config, parse_range("2023-07", None, None)), config)
    return compile_message(rendered, config)


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_name_and_unsubscribe_link_are_filled_in_both_parts(config, template):
    raw = fill(template, config, Recipient("jo@example.org", "Jo Bloggs"), token="TOKEN123", message_id="<1@x>")
    msg = parse(raw)
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Hello Jo," in text and "Hello Jo," in html
    assert "https://example.org/unsubscribe?t=TOKEN123" in text
    assert 'href="https://example.org/unsubscribe?t=TOKEN123"' in html
    assert msg["List-Unsubscribe"].startswith("<https://example.org/unsubscribe?t=TOKEN123>")
    assert msg["To"] == "Jo Bloggs <jo@example.org>"
    assert msg["Message-ID"] == "<1@x>"


def test_greeting_without_a_name(config, template):
    msg = parse(fill(template, config, Recipient("jo@example.org"), token="T", message_id="<1@x>"))
    assert "Hello,\n" in msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert msg["To"] == "jo@example.org"


@pytest.mark.parametrize("name", [
    "Evil\r\nBcc: victim@example.com",
    "Evil\nSubject: hijacked",
    'Quote " and, comma',
    "Zoë Müller-Łukasiewicz",
    "名前 テスト",
    "x" * 300,
])
def test_names_cannot_inject_headers_and_are_encoded(config, template, name):
    raw = fill(template, config, Recipient("jo@example.org", name), token="T", message_id="<1@x>")
    msg = parse(raw)
    assert msg["Bcc"] is None
    assert msg["Subject"] == "Safeguarding digest: what's new in July 2023"
    assert msg["To"].addresses[0].addr_spec == "jo@example.org"
    assert msg["To"].addresses[0].display_name == " ".join(name.split())
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    text = msg.get_body(("plain",)).get_content()
    assert f"Hello {greeting_name(name)}," in text


def test_html_values_are_escaped(config, template):
    raw = fill(template, config, Recipient("jo@example.org", "<b>Jo</b> & co"), token="T", message_id="<1@x>")
    html = parse(raw).get_body(("html",)).get_content()
    assert "Hello &lt;b&gt;Jo&lt;/b&gt;," in html
    raw = fill(template, config, Recipient("jo@example.org", "x", "<b>Jo</b> & co"), token="T", message_id="<1@x>")
    assert "Hello &lt;b&gt;Jo&lt;/b&gt; &amp; co," in parse(raw).get_body(("html",)).get_content()


@pytest.mark.parametrize(("name", "first_name", "expected"), [
    ("O'Brien, Jo", "", "Hello Jo,"),
    ("Jo O'Brien", "", "Hello Jo,"),
    ("Jo O'Brien, MBE", "", "Hello Jo,"),
    ("Dr Amira Khan", "", "Hello Dr Khan,"),
    ("J. Smith", "", "Hello J. Smith,"),
    ("Priya", "", "Hello Priya,"),
    ("", "", "Hello,"),
    ("O'Brien, Jo", "Joanna", "Hello Joanna,"),
    ("Amira Khan", "Evil\r\nBcc: x@example.com", "Hello Evil Bcc: x@example.com,"),
])
def test_the_greeting_uses_a_first_name(name, first_name, expected):
    assert greeting(name, first_name) == expected


def test_long_values_are_never_split_and_lines_stay_short(config, template):
    token = "A" * 500
    raw = fill(template, config, Recipient("jo@example.org", "B" * 200), token=token, message_id="<1@x>")
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    text = parse(raw).get_body(("plain",)).get_content()
    assert f"https://example.org/unsubscribe?t={token}" in text


def test_non_ascii_subject_is_encoded(config):
    from dataclasses import replace

    config = replace(config, subject="Résumé — {period}")
    rendered = render_issue(prepare_issue(config, parse_range("2023-07", None, None)), config)
    raw = fill(compile_message(rendered, config), config, Recipient("a@example.org"), token="T", message_id="<1@x>")
    assert raw.split(b"\r\n\r\n", 1)[0].isascii()
    assert parse(raw)["Subject"] == "Résumé — July 2023"


def test_every_recipient_gets_own_values_from_one_template(config, template):
    messages = [fill(template, config, Recipient(f"r{n}@example.org", f"Reader {n}"), token=f"tok{n}",
                     message_id=f"<{n}@x>") for n in range(3)]
    for n, raw in enumerate(messages):
        msg = parse(raw)
        assert msg["To"].addresses[0].addr_spec == f"r{n}@example.org"
        assert f"t=tok{n}" in msg.get_body(("plain",)).get_content()
