"""Theme choices: what each subscriber wants, from the CSV's `themes` column or the page.

A choice is normalised to a canonical *selection*: a frozenset of the config's display
names, or `None` for "every theme" (an empty cell, a choice of every configured theme,
or nothing usable). Names match like item themes (`config.theme_named`: case and spacing
ignored). The preferences page (stored in the state file) overrides the CSV from the
first time it is saved; an empty stored list means every theme, new ones included.

Unknown names in the CSV are reported with their line. Without `--strict` the unknown
name is dropped and the row kept with the names that are left; a row with no known name
left gets every theme (sending too much is better than silently sending nothing).
The list as the CRM should see it (`newsletter subscribers export`) is in export.py.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from newsletter.audience.subscribers import SubscriberList
from newsletter.config import Config, Selection, ordered, pick_text, selection_of, unknown_theme_error
from newsletter.errors import NewsletterError, raise_all

__all__ = [
    "ThemeChoices",
    "apply_choices",
    "apply_languages",
    "check_list_themes",
    "offered_languages",
]


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
                      else dataclasses.replace(subscriber, themes=themes))
    return dataclasses.replace(subscribers, subscribers=chosen), choices


def offered_languages(config: Config, chosen: Mapping[str, str]) -> dict[str, str]:
    """The languages chosen on the site (address key -> tag) that the config still offers,
    spelled as the config spells them. A choice of a language since taken out of
    `languages` is left aside: the reader gets the CSV's language (or the config's), as
    if they had never chosen, rather than a version nobody checks."""
    offered = {tag: tag for tag in config.languages}
    kept = {key: pick_text(offered, tag) for key, tag in chosen.items()}
    return {key: tag for key, tag in kept.items() if tag}


def apply_languages(subscribers: SubscriberList, languages: Mapping[str, str]) -> tuple[SubscriberList, int]:
    """The list with each reader's language chosen on the site (`offered_languages`) over
    the CSV's `language` cell, as topics saved on the site win over its `themes`; and how
    many readers chose theirs there."""
    chosen, count = [], 0
    for subscriber in subscribers.subscribers:
        language = languages.get(subscriber.key)
        if language is None:
            chosen.append(subscriber)
            continue
        count += 1
        chosen.append(subscriber if language == subscriber.language
                      else dataclasses.replace(subscriber, language=language))
    return dataclasses.replace(subscribers, subscribers=chosen), count
