"""Theme choices: what each subscriber wants, from the CSV's `themes` column or the page.

A choice is normalised to a canonical *selection*: a frozenset of the config's display
names, or `None` for "every theme" (an empty cell, a choice of every configured theme,
or nothing usable). Names match like item themes (`config.theme_named`: case and spacing
ignored). The preferences page (stored in the state file) overrides the CSV from the
first time it is saved; an empty stored list means every theme, new ones included.

Unknown names in the CSV are reported with their line. Without `--strict` the unknown
name is dropped and the row kept with the names that are left; a row with no known name
left gets every theme (sending too much is better than silently sending nothing).
`merged_rows` is the list as the CRM should see it: the CSV with the stored choices and
the suppression list applied (`newsletter subscribers export`).
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import io
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from newsletter.audience.subscribers import Subscriber, SubscriberList
from newsletter.config import Config, theme_key
from newsletter.errors import NewsletterError, SendError, raise_all
from newsletter.files import atomic_write, safe_cell
from newsletter.journal import Signup, Suppression

__all__ = [
    "EXPORT_COLUMNS",
    "ExportRow",
    "Selection",
    "ThemeChoices",
    "apply_choices",
    "check_list_themes",
    "describe",
    "export_subscribers",
    "merged_rows",
    "ordered",
    "selection_of",
    "stored_choice",
    "unknown_theme_error",
    "write_export",
]

Selection = frozenset[str] | None  # display names; None = every theme
EXPORT_COLUMNS = ("email", "name", "status", "themes", "themes_from", "suppressed", "suppressed_since",
                  "signup_requested", "signup_confirmed", "signup_source", "consent")


def selection_of(names: Iterable[str] | None, config: Config) -> Selection:
    """The canonical selection for `names`: known display names, or None for every theme."""
    if names is None:
        return None
    chosen = {found for name in names if (found := config.theme_named(name))}
    if not chosen or len(chosen) == len(config.themes):
        return None
    return frozenset(chosen)


def ordered(selection: Selection, config: Config) -> tuple[str, ...] | None:
    """The selection in the config's display order (how it is stored and shown); None = all."""
    if selection is None:
        return None
    return tuple(theme for theme in config.themes if theme in selection)


def describe(selection: Selection, config: Config) -> str:
    """`Online safety, Neglect` or `all themes`, for reports and the preview."""
    names = ordered(selection, config)
    return ", ".join(names) if names else "all themes"


def unknown_theme_error(name: str, config: Config, *, path: Path | str | None = None,
                        line: int | None = None) -> SendError:
    """`subscribers.csv:7: themes: unknown theme 'Neglekt' (did you mean 'Neglect'?)`."""
    keys = {theme_key(t): t for t in config.themes}
    close = difflib.get_close_matches(theme_key(name), list(keys), n=1, cutoff=0.6)
    hint = f"did you mean {keys[close[0]]!r}?" if close else f"use one of: {', '.join(config.themes)}"
    return SendError(f"unknown theme {name!r}", path=path, line=line, field="themes", hint=hint)


def check_list_themes(subscribers: SubscriberList, config: Config) -> list[NewsletterError]:
    """One error per unknown theme name in the CSV's `themes` column, naming its line."""
    problems: list[NewsletterError] = []
    known: set[str] = set()
    for subscriber in subscribers.subscribers:
        for name in subscriber.themes or ():
            if name in known:
                continue
            if config.theme_named(name) is None:
                problems.append(unknown_theme_error(name, config, path=subscribers.path, line=subscriber.line))
            else:
                known.add(name)
    return problems


def stored_choice(themes: list[str], config: Config) -> Selection:
    """A choice saved through the preferences page; `[]` (or no name still configured) = all."""
    return selection_of(themes, config) if themes else None


@dataclass
class ThemeChoices:
    """What the list's theme choices came to, for the plan shown before sending."""

    problems: list[NewsletterError] = field(default_factory=list)  # unknown names in the CSV
    from_page: int = 0  # subscribers whose saved preference replaced the CSV column
    selections: Counter[Selection] = field(default_factory=Counter)  # selection -> subscribers

    @property
    def distinct(self) -> int:
        return len(self.selections)


def apply_choices(subscribers: SubscriberList, config: Config, preferences: Mapping[str, list[str]], *,
                  strict: bool = False) -> tuple[SubscriberList, ThemeChoices]:
    """The list with each subscriber's `themes` replaced by their canonical selection.

    `preferences` (address -> saved themes, `journal.all_preferences`) wins over the CSV.
    Unknown CSV names are collected in `ThemeChoices.problems`, or raised all at once
    with `strict`. The returned subscribers carry `themes` in display order, or None.
    """
    choices = ThemeChoices(problems=check_list_themes(subscribers, config))
    if strict:
        raise_all(choices.problems)
    known: dict[tuple[str, ...] | None, tuple[Selection, tuple[str, ...] | None]] = {}  # 100,000 rows, few cells

    def resolve(names: tuple[str, ...] | None) -> tuple[Selection, tuple[str, ...] | None]:
        if names not in known:
            selection = selection_of(names, config)
            known[names] = (selection, ordered(selection, config))
        return known[names]

    chosen = []
    for subscriber in subscribers.subscribers:
        saved = preferences.get(subscriber.key)
        if saved is not None:
            choices.from_page += 1
            selection, themes = resolve(tuple(saved) or None)
        else:
            selection, themes = resolve(subscriber.themes)
        choices.selections[selection] += 1
        chosen.append(subscriber if themes == subscriber.themes
                      else Subscriber(subscriber.email, subscriber.name, themes, subscriber.line))
    return dataclasses.replace(subscribers, subscribers=chosen), choices


# --- the merged list, for the CRM -------------------------------------------------------


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


def merged_rows(subscribers: SubscriberList, config: Config, preferences: Mapping[str, list[str]],
                suppressions: Iterable[Suppression], signups: Iterable[Signup] = ()) -> list[ExportRow]:
    """Every valid row of the CSV (subscribed and unsubscribed), then every confirmed sign-up
    the CSV does not have, as `send` would see them now; sign-ups carry their consent."""
    suppressed = {s.email: s for s in suppressions}
    consents = {s.email: s for s in signups}
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
    return [_with_consent(row, consents.get(row.email.strip().lower())) for row in rows]


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
    unsubscribed = listed_unsubscribed or (suppression is not None and suppression.reason == "unsubscribed")
    status = "unsubscribed" if unsubscribed else "subscribed"
    return ExportRow(
        email=subscriber.email,
        name=subscriber.name,
        status=status,
        themes=ordered(selection, config),
        themes_from=source,
        suppressed=suppression.reason if suppression else "",
        suppressed_since=suppression.created[:10] if suppression else "",
    )


def write_export(rows: Iterable[ExportRow], out: TextIO) -> int:
    """`email,name,status,themes,themes_from,suppressed,suppressed_since` and a sign-up's
    consent (`signup_requested,signup_confirmed,signup_source,consent`); `send` reads it back."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([safe_cell(v) for v in (row.email, row.name, row.status, ";".join(row.themes or ()),
                                                row.themes_from, row.suppressed, row.suppressed_since,
                                                row.signup_requested, row.signup_confirmed, row.signup_source,
                                                row.consent)])
        count += 1
    return count


def export_subscribers(rows: list[ExportRow], path: Path) -> int:
    """Write the merged list to `path` atomically; returns the row count."""
    path = Path(path)
    text = io.StringIO(newline="")
    count = write_export(rows, text)
    try:
        atomic_write(path, text.getvalue(), mode=0o644)
    except OSError as exc:
        raise NewsletterError(f"cannot write the export: {exc.strerror}", path=path,
                              hint="check that the folder exists and is writable") from exc
    return count
