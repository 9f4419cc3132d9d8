"""Sign-up mails in tests: sent as soon as they are queued.

The site's background sender holds each mail for a random 1-5 s (send/signupmail.py,
MAIL_DELAY) so its work cannot be timed from outside; tests that do not test that delay
would only wait longer, so it is off for every test unless a test puts it back.
"""

from __future__ import annotations

import pytest

from newsletter.send import signupmail


@pytest.fixture(autouse=True)
def no_mail_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signupmail, "MAIL_DELAY", (0.0, 0.0))
