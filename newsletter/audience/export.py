"""The merged list, for the CRM: `newsletter subscribers export`.

The resolved audience (resolved.py) written back as a subscriber CSV: each valid row of
the CSV with the theme choice saved on the preferences page (or the CSV's own), the
language chosen on the site (or the CSV's own),
suppression list, and the confirmed sign-ups with the consent on record. `send
--subscribers` reads the file back.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from newsletter.addresses import address_key
from newsletter.audience.resolved import Audience
from newsletter.audience.subscribers import Subscriber
from newsletter.config import Config, ordered, selection_of, stored_choice
from newsletter.errors import NewsletterError
from newsletter.files import atomic_write, safe_cell
from newsletter.journal import Signup, Suppression, SuppressionReason

__all__ = ["EXPORT_COLUMNS", "ExportRow", "export_subscribers", "merged_rows", "write_export"]

EXPORT_COLUMNS = ("email", "name", "status", "themes", "themes_from", "suppressed", "suppressed_since",
                  "signup_requested", "signup_confirmed", "signup_source", "consent", "language", "language_from")


@dataclass(frozen=True)
class ExportRow:
    email: str
    name: str
    status: str  # subscribed | unsubscribed (in the CSV, or through a link): `send` reads it back
    themes: tuple[str, ...] | None  # None = every theme
    themes_from: str  # page | list | "" (every theme, nobody chose)
    suppressed: str = ""  # the suppression reason, if any
    suppressed_since: str = ""  # ISO date
    signup_requested: str = ""  # a confirmed sign-up's consent on record: when it was asked for,
    signup_confirmed: str = ""  # when confirmed (UTC, ISO 8601),
    signup_source: str = ""  # page | snippet,
    consent: str = ""  # and the wording shown beside the button
    language: str = ""  # the version they receive ("" = the config's `language`): chosen on the site, else the CSV's
    language_from: str = ""  # site (the sign-up form or the topics page) | list (the CSV's cell) | ""


def merged_rows(audience: Audience, config: Config) -> list[ExportRow]:
    """Every valid row of the CSV (subscribed and unsubscribed), then every confirmed sign-up
    the CSV does not have, as `send` would see them now; sign-ups carry their consent."""
    subscribers, preferences = audience.listed, audience.preferences
    suppressed = {s.key: s for s in audience.suppression_records}
    consents = {s.email: s for s in audience.signups}
    unsubscribed = {s.key for s in subscribers.unsubscribed}
    rows = []
    seen: set[str] = set()
    for subscriber in sorted([*subscribers.subscribers, *subscribers.unsubscribed], key=lambda s: s.line):
        if subscriber.key in seen:
            continue
        seen.add(subscriber.key)
        rows.append(_export_row(subscriber, subscriber.key in unsubscribed, config,
                                preferences.get(subscriber.key), suppressed.get(subscriber.key)))
    for signup in consents.values():
        if signup.email not in seen:
            rows.append(_export_row(Subscriber(signup.email, signup.name, signup.themes), False, config,
                                    preferences.get(signup.email), suppressed.get(signup.email)))
    return [_with_language(_with_consent(row, consents.get(address_key(row.email))), audience.languages)
            for row in rows]


def _with_language(row: ExportRow, chosen: Mapping[str, str]) -> ExportRow:
    language = chosen.get(address_key(row.email))
    if language is not None:
        return dataclasses.replace(row, language=language, language_from="site")
    return dataclasses.replace(row, language_from="list") if row.language else row


def _with_consent(row: ExportRow, signup: Signup | None) -> ExportRow:
    if signup is None or signup.confirmed is None:
        return row
    return dataclasses.replace(row, signup_requested=signup.requested, signup_confirmed=signup.confirmed,
                               signup_source=signup.source, consent=signup.consent)


def _export_row(subscriber: Subscriber, listed_unsubscribed: bool, config: Config, saved: list[str] | None,
                suppression: Suppression | None) -> ExportRow:
    if saved is not None:
        selection, source = stored_choice(saved, config), "page"
    else:
        selection = selection_of(subscriber.themes, config)
        source = "list" if selection is not None else ""
    unsubscribed = listed_unsubscribed or (suppression is not None and suppression.reason == SuppressionReason.UNSUBSCRIBED)
    status = "unsubscribed" if unsubscribed else "subscribed"
    return ExportRow(
        email=subscriber.email,
        name=subscriber.name,
        status=status,
        themes=ordered(selection, config),
        themes_from=source,
        suppressed=suppression.reason if suppression else "",
        suppressed_since=suppression.created[:10] if suppression else "",
        language=subscriber.language,
    )


def write_export(rows: Iterable[ExportRow], out: TextIO) -> int:
    """`email,name,status,themes,themes_from,suppressed,suppressed_since` and a sign-up's
    consent (`signup_requested,signup_confirmed,signup_source,consent`), then `language,language_from`;
    `send` reads it back."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([safe_cell(v) for v in (row.email, row.name, row.status, ";".join(row.themes or ()),
                                                row.themes_from, row.suppressed, row.suppressed_since,
                                                row.signup_requested, row.signup_confirmed, row.signup_source,
                                                row.consent, row.language, row.language_from)])
        count += 1
    return count


def export_subscribers(rows: list[ExportRow], path: Path) -> int:
    """Write the merged list to `path` atomically; returns the row count."""
    path = Path(path)
    text = io.StringIO(newline="")
    count = write_export(rows, text)
    try:
        atomic_write(path, text.getvalue(), mode=0o600)  # addresses: people's data, private like the state
    except OSError as exc:
        raise NewsletterError(f"cannot write the export: {exc.strerror}", path=path,
                              hint="check that the folder exists and is writable") from exc
    return count
