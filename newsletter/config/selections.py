"""Theme selections: which of the config's themes a subscriber wants, in one canonical form.

A selection is a frozenset of the config's display names, or `None` for "every theme"
(an empty choice, a choice of every configured theme, or nothing usable). It lives
beside the config's themes because two stages read it: the audience (who chose what)
and the issue (which version of the issue that choice gets). Names match like item
themes (`Config.theme_named`: case and spacing ignored).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

from newsletter.config.loader import Config
from newsletter.config.sections import theme_key
from newsletter.errors import SendError

__all__ = ["Selection", "describe", "ordered", "selection_of", "stored_choice", "unknown_theme_error"]

Selection = frozenset[str] | None  # display names; None = every theme


def selection_of(names: Iterable[str] | None, config: Config) -> Selection:
    """The canonical selection for `names`: known display names, or None for every theme."""
    if names is None:
        return None
    chosen = {found for name in names if (found := config.theme_named(name))}
    if not chosen or len(chosen) == len(config.themes):
        return None
    return frozenset(chosen)


def stored_choice(themes: list[str], config: Config) -> Selection:
    """A choice saved through the preferences page; `[]` (or no name still configured) = all."""
    return selection_of(themes, config) if themes else None


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
