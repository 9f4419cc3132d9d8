"""Which theme a collected item gets: the source's rules, its theme, the global `theme_rules`.

A rule is a list of words: `coercive control` matches those words (any spacing, any
case) as whole words, `neglect*` matches words starting so, and `tag:online safety`
matches a feed category (a bare word also matches a category of the same name). Before
any rule, a feed category that is a configured theme's name (any case, any spacing) gives
that theme. The first rule that matches wins, in the order the config writes them; "" means no theme,
and the item file then says it needs one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from newsletter.collect.sources import Source
from newsletter.config import Config, theme_key

__all__ = [
    "choose_theme",
]


@functools.lru_cache(maxsize=512)
def _keyword(word: str) -> re.Pattern[str]:
    prefix = word.endswith("*")
    body = re.escape(word.rstrip("*").strip().casefold()).replace(r"\ ", r"\s+")
    end = "" if prefix else r"(?!\w)"
    return re.compile(r"(?<!\w)" + body + end)


def _rule_matches(words: list[str], text: str, tags: set[str]) -> bool:
    for word in words:
        if word.startswith("tag:"):
            if theme_key(word[4:]) in tags:
                return True
        elif theme_key(word) in tags or _keyword(word).search(text):
            return True
    return False


def _match(rules: dict[str, list[str]], text: str, tags: set[str]) -> str | None:
    return next((theme for theme, words in rules.items() if _rule_matches(words, text, tags)), None)


def choose_theme(config: Config, source: Source, *, title: str, text: str,
                 tags: Sequence[str] = ()) -> str:
    """A feed category that names a configured theme (ignoring case and spacing) first,
    since the publisher has already filed the entry; else the source's own rules, else the
    source's `theme`, else the global `theme_rules`, each in the order written; the first
    rule that matches wins; "" if none does."""
    named = next((theme for theme in map(config.theme_named, tags) if theme), None)
    if named:
        return named
    haystack = f"{title}\n{text}".casefold()
    tag_keys = {theme_key(t) for t in tags}
    return (_match(source.rules, haystack, tag_keys) or source.theme
            or _match(config.theme_rules, haystack, tag_keys) or "")
