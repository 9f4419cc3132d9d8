"""Choosing an issue's items: date-range selection, theme grouping and ordering.

Pure functions over `Item`s: the range is inclusive at both ends, themes follow the
config's display order, items run newest first within a theme, empty themes are left out.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from newsletter.config import Config, theme_key
from newsletter.daterange import DateRange
from newsletter.errors import BuildError, ItemError, NewsletterError, raise_all
from newsletter.issue.items import Item

__all__ = ["Section", "Issue", "select_items", "group_items", "make_issue"]


@dataclass(frozen=True)
class Section:
    theme: str
    anchor: str  # id of the section in the HTML, linked from the table of contents
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Issue:
    range: DateRange
    sections: tuple[Section, ...]

    @property
    def items(self) -> list[Item]:
        return [item for section in self.sections for item in section.items]

    @property
    def themes(self) -> list[str]:
        return [section.theme for section in self.sections]

    def in_language(self, tag: str) -> Issue:
        """The same issue with each item's texts in `tag` (`Item.in_language`)."""
        return Issue(self.range, tuple(Section(s.theme, s.anchor, tuple(i.in_language(tag) for i in s.items))
                                       for s in self.sections))

    def only(self, themes: set[str]) -> Issue:
        """The same issue with only the sections whose theme is in `themes` (by theme key)."""
        keys = {theme_key(t) for t in themes}
        return Issue(self.range, tuple(s for s in self.sections if theme_key(s.theme) in keys))


def select_items(items: list[Item], date_range: DateRange) -> list[Item]:
    return [item for item in items if item.date in date_range]


def _anchor(theme: str) -> str:
    return "theme-" + (re.sub(r"[^a-z0-9]+", "-", theme.lower()).strip("-") or "x")


def group_items(items: list[Item], config: Config) -> tuple[Section, ...]:
    """Sections in config order, newest first within each; unknown themes are errors."""
    by_theme: dict[str, list[Item]] = {theme: [] for theme in config.themes}
    errors: list[NewsletterError] = []
    for item in items:
        theme = config.theme_named(item.theme) if item.theme else None
        if theme is None:
            errors.append(_theme_error(item, config))
            continue
        by_theme[theme].append(item)
    raise_all(errors)
    return tuple(
        Section(theme, _anchor(theme), tuple(sorted(found, key=lambda i: (i.date, i.title), reverse=True)))
        for theme, found in by_theme.items()
        if found
    )


def _theme_error(item: Item, config: Config) -> ItemError:
    choices = ", ".join(config.themes)
    if not item.theme:
        return ItemError("no theme set", path=item.path, line=item.line_of("theme"), field="theme",
                         hint=f"set one of: {choices}")
    keys = {theme_key(t): t for t in config.themes}
    close = difflib.get_close_matches(theme_key(item.theme), list(keys), n=1, cutoff=0.6)
    hint = f"did you mean {keys[close[0]]!r}?" if close else f"use one of: {choices}, or add it to themes in the config"
    return ItemError(f"unknown theme {item.theme!r}", path=item.path, line=item.line_of("theme"), field="theme", hint=hint)


def make_issue(items: list[Item], config: Config, date_range: DateRange) -> Issue:
    selected = select_items(items, date_range)
    if not selected:
        raise BuildError(
            f"no items dated {date_range.start} to {date_range.end}",
            path="items/",
            hint="check the month, or add item files with dates in that range",
        )
    return Issue(date_range, group_items(selected, config))
