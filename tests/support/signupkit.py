"""Sign-up mails in tests: sent as soon as they are queued.

The site's background sender holds each mail for a random 1-5 s (send/signupmail.py,
MAIL_DELAY) so its work cannot be timed from outside; tests that do not test that delay
would only wait longer, so it is off for every test unless a test puts it back.
"""

from __future__ import annotations

from email.message import Message

import pytest

from newsletter.send import signupmail


@pytest.fixture(autouse=True)
def no_mail_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signupmail, "MAIL_DELAY", (0.0, 0.0))


def text_of(message: Message) -> str:
    """A mail's plain-text part, which comes first (sign-up mails also have a branded HTML part)."""
    plain = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    payload = plain.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()
