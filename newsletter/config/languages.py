"""`language:`, `languages:` and `language_layout:`: which languages the email is written in.

`language` is the email's own language (its words, dates and `<html lang>`); `languages`
the ones a reader may have (the subscriber list's `language` column). Each tag must be
one Babel knows, since dates and plural rules come from there. `language_layout` says
whether each reader gets one language (`separate`) or every reader gets all of them in
one email (`stacked`, for organisations that must write in both, Welsh first, say).
"""

from __future__ import annotations

from newsletter.config.i18n import SHIPPED, language_problem
from newsletter.config.reader import ConfigReader
from newsletter.config.schema import TOP
from newsletter.yamldoc import LineMap

__all__ = ["LAYOUTS", "read_language", "read_language_layout", "read_languages"]

LAYOUTS = ("separate", "stacked")


def read_language(r: ConfigReader, data: LineMap) -> str:
    """`language:`, a tag Babel knows (its dates and plural rules come from there)."""
    tag = r.value(data, TOP["language"])
    problem = language_problem(tag)
    if problem:
        r.error(data, "language", problem, f"use a language tag such as {', '.join(SHIPPED)} or fr-FR")
        return str(TOP.default("language"))
    return str(tag)


def read_languages(r: ConfigReader, data: LineMap, language: str) -> tuple[str, ...]:
    """`languages: [cy, en]`: the tags a reader's `language` may name; `language` alone without it."""
    value = data.get("languages")
    if value is None:
        return (language,)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        r.error(data, "languages", "must be a list of language tags", "write e.g. `languages: [cy, en]`")
        return (language,)
    tags: list[str] = []
    for tag in value:
        problem = language_problem(tag.strip())
        if problem:
            r.error(data, "languages", f"{tag!r}: {problem}", f"use language tags such as {', '.join(SHIPPED)}")
        elif tag.strip() not in tags:
            tags.append(tag.strip())
    return tuple(tags) or (language,)


def read_language_layout(r: ConfigReader, data: LineMap, languages: tuple[str, ...]) -> str:
    """`language_layout: separate | stacked`; stacking needs two languages to stack."""
    value = r.value(data, TOP["language_layout"])
    if value not in LAYOUTS:
        r.error(data, "language_layout", f"must be separate or stacked, not {value!r}",
                "separate: each reader gets the issue in their language; stacked: one email with every language")
        return str(TOP.default("language_layout"))
    if value == "stacked" and len(languages) < 2:
        r.error(data, "language_layout", "stacked needs two or more languages to stack",
                "list them in the order the email shows them, e.g. `languages: [cy, en]`")
    return str(value)
