"""Going live: `newsletter doctor` checks what receivers and the relay need before a real send.

Takes the config (and a DNS server to ask); gives `Diagnosis` lines (findings.py), one
per thing checked: the From domain's SPF, DMARC and DKIM records and their alignment
(dns.py), the relay's connect, EHLO, TLS and AUTH without sending (relay.py), and the
unsubscribe and preferences addresses, probed online on request (web.py). doctor.py runs
them all in order. Nothing here sends mail or writes to the journal.
"""

from __future__ import annotations

from newsletter.golive.doctor import run_doctor
from newsletter.golive.findings import Diagnosis

__all__ = ["Diagnosis", "run_doctor"]
