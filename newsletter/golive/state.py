"""The state check `doctor` makes: which state is in use, whether it answers, its schema.

A PostgreSQL state on another machine should be reached over TLS that checks the server:
without `sslmode` libpq tries TLS but falls back to plain text, so that is a warning.
"""

from __future__ import annotations

import contextlib
from urllib.parse import parse_qs, urlsplit

from newsletter import journal
from newsletter.config import Config
from newsletter.deliver import is_loopback
from newsletter.errors import NewsletterError
from newsletter.golive.findings import Diagnosis, error, ok, warning

__all__ = ["check_state"]


def check_state(config: Config) -> list[Diagnosis]:
    where = journal.describe(config.state)
    if not journal.exists(config.state):
        return [ok("state", f"{where}: not created yet (the first send creates it)")]
    try:
        with contextlib.closing(journal.connect(config.state, migrate=False)) as db:
            version = journal.schema_version(db)
    except NewsletterError as exc:
        return [error("state", f"{where}: does not answer: {exc.message}", exc.hint)]
    found = _tls(config.state)
    if version > journal.LATEST:
        found.append(error("state", f"{where}: schema version {version} is newer than this newsletter "
                                    f"({journal.LATEST})", "upgrade newsletter on this machine"))
    elif version < journal.LATEST:
        found.append(warning("state", f"{where}: schema version {version}, this newsletter uses {journal.LATEST}",
                             "run `newsletter state upgrade` (commands also upgrade where it is safe)"))
    else:
        found.append(ok("state", f"{where}: answers, schema version {version}"))
    return found


def _tls(state: journal.StateLocation) -> list[Diagnosis]:
    if state.url is None:
        return []
    parts = urlsplit(state.url)
    mode = parse_qs(parts.query).get("sslmode", [""])[0]
    if not parts.hostname or parts.hostname.startswith("/") or is_loopback(parts.hostname):
        return []
    if mode in ("verify-full", "verify-ca"):
        return []
    return [warning("state", f"the state database {parts.hostname} is reached without checking its certificate "
                             f"(sslmode={mode or 'prefer, the default'})",
                    "add ?sslmode=verify-full to the state URL")]
