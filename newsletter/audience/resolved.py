"""The resolved audience: who is mailed, with which theme selection, from every source.

"Who gets which version" has one answer, and this is it. `resolve` reads the subscriber
CSV once (validated, de-duplicated), adds the confirmed sign-ups the CSV lacks, applies
the theme choices saved on the preferences page over the CSV's `themes` column (or the
sign-up's), and attaches the suppressions. `send`'s plan, the checks `build`, `check`
and `send` run on every version, `subscribers export` and `send --dry-run` all read
the same `Audience`, so the versions checked are exactly the versions sent.

| source                         | gives                                     | wins over             |
|--------------------------------|-------------------------------------------|-----------------------|
| the CSV (one read)             | rows, names, `themes`, `status`           | -                     |
| confirmed sign-ups (journal)   | addresses the CSV lacks, their topics     | nothing: the CSV's row wins |
| saved choices (journal)        | the topics chosen on the preferences page | the CSV's and sign-up's topics |
| language choices (journal)     | the language chosen on the sign-up form or the topics page | the CSV's `language` |
| suppressions (journal)         | who must not be mailed, and why           | every other source    |
| erased addresses' hashes       | who was forgotten (`person forget`)       | every other source    |

The result is plain data; the journal is read through the connection the caller opened
(`db=None`: no state file yet, so no sign-ups, choices or suppressions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from newsletter import journal
from newsletter.audience.choices import ThemeChoices, apply_choices, apply_languages, offered_languages
from newsletter.audience.person import erased_addresses
from newsletter.audience.signups import with_signups
from newsletter.audience.subscribers import Subscriber, SubscriberList, read_subscribers
from newsletter.config import Config
from newsletter.errors import NewsletterError, SendError

__all__ = ["Audience", "resolve"]


@dataclass(frozen=True)
class Audience:
    """The list as `send` sees it now; `subscribers` carry their canonical selection as `themes`
    (the config's display names in display order, or None for every theme)."""

    listed: SubscriberList  # the CSV as read: its rows, invalid and duplicate rows, unsubscribed rows
    subscribers: SubscriberList  # the CSV's subscribers, then confirmed sign-ups it lacks; themes resolved
    choices: ThemeChoices  # unknown theme names, selections and how many came from the page
    suppressions: Mapping[str, str] = field(default_factory=dict)  # address key -> reason
    from_signups: int = 0  # confirmed sign-ups added to the CSV's list
    preferences: Mapping[str, list[str]] = field(default_factory=dict, repr=False)  # key -> saved themes
    suppression_records: tuple[journal.Suppression, ...] = field(default=(), repr=False)
    signups: tuple[journal.Signup, ...] = field(default=(), repr=False)
    languages: Mapping[str, str] = field(default_factory=dict, repr=False)  # key -> language chosen on the site
    languages_from_site: int = 0  # readers on the list whose language was chosen on the site

    @property
    def path(self) -> Path:
        return self.listed.path

    @property
    def mailed(self) -> list[Subscriber]:
        """Who is mailed (before any per-issue rule such as a quiet month): not suppressed."""
        return [s for s in self.subscribers.subscribers if s.key not in self.suppressions]

    @property
    def problems(self) -> list[NewsletterError]:
        """Everything found wrong on the way, as error lines: invalid and duplicate rows,
        unknown theme names."""
        rows = [SendError(f"skipped: {p.reason} ({p.value!r})", path=self.path, line=p.line, field="email")
                for p in (*self.listed.invalid, *self.listed.duplicates)]
        return [*sorted(rows, key=lambda e: e.line or 0), *self.choices.problems]


def resolve(config: Config, subscribers_path: Path, db: journal.Db | None, *,
            strict: bool = False) -> Audience:
    """Read the CSV once and resolve it against the journal; raises for an unreadable list
    (or, with `strict`, for any invalid row or unknown theme name, all at once)."""
    listed = read_subscribers(subscribers_path, strict=strict, languages=config.languages)
    preferences = journal.all_preferences(db) if db is not None else {}
    suppressions = tuple(journal.list_suppressions(db)) if db is not None else ()
    signups = tuple(journal.confirmed_signups(db)) if db is not None else ()
    with_page, from_signups = with_signups(listed, signups)
    subscribers, choices = apply_choices(with_page, config, preferences, strict=strict)
    languages = offered_languages(config, journal.all_languages(db)) if db is not None else {}
    subscribers, from_site = apply_languages(subscribers, languages)
    reasons = {s.key: s.reason for s in suppressions}
    if db is not None:  # `person forget` keeps only a keyed hash: matched here, for every reader
        erased = erased_addresses(db, config, (s.key for s in subscribers.subscribers))
        reasons.update(dict.fromkeys(erased, journal.SuppressionReason.ERASED))
    return Audience(listed, subscribers, choices, reasons, from_signups, preferences, suppressions, signups,
                    languages, from_site)
