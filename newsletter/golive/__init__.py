"""Going live: `newsletter doctor` checks what receivers and the relay need before a real send.

Takes the config (and a DNS server to ask); gives `Diagnosis` lines (findings.py), one
per thing checked: the From domain's SPF, DMARC and DKIM records and their alignment
(dns.py), the relay's connect, EHLO, TLS and AUTH without sending (relay.py), and the
unsubscribe and preferences addresses, probed online on request (web.py). doctor.py runs
them all in order. Nothing here sends mail or writes to the journal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter import load_face

if TYPE_CHECKING:
    from newsletter.golive.doctor import run_doctor
    from newsletter.golive.state import check_state

# name -> the module that defines it, imported on first use (PEP 562), so that importing
# one name loads only what that name needs.
_EXPORTS = {
    "check_state": "newsletter.golive.state",
    "run_doctor": "newsletter.golive.doctor",
}

__all__ = [
    "check_state",
    "run_doctor",
]


def __getattr__(name: str) -> object:
    return load_face(__name__, _EXPORTS, name)
