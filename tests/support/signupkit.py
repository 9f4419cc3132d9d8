"""Sign-up mails in tests: sent as soon as they are queued.

The site's background sender holds each mail for a random 1-5 s (send/signupmail.py,
MAIL_DELAY) so its work cannot be timed from outside; tests that do not test that delay
would only wait longer, so it is off for every test unless a test puts it back.
"""

from __future__ import annotations

from email.message import Message

import pytest

import newsletter.send.signupmail as signupmail  # instrumented here, so tests need not reach inside send


@pytest.fixture(autouse=True)
def no_mail_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signupmail, "MAIL_DELAY", (0.0, 0.0))


def with_mail_delay(monkeypatch: pytest.MonkeyPatch, seconds: tuple[float, float]) -> None:
    """Put the background sender's random hold (MAIL_DELAY) back, for the test of it."""
    monkeypatch.setattr(signupmail, "MAIL_DELAY", seconds)


def text_of(message: Message) -> str:
    """A mail's plain-text part, which comes first (sign-up mails also have a branded HTML part)."""
    plain = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    payload = plain.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()
