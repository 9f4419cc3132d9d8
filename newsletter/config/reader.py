"""Reading `newsletter.yaml` so that every mistake is reported at once, at its line.

`ConfigReader` collects every error instead of stopping at the first, so a user fixes
the whole file in one go. The keys a section allows, the kind of each value and its
default come from the key table (schema.py): `validate` checks names and kinds against
it, `value` reads one setting by its kind with its default.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from newsletter.config.i18n import language_problem, pick_text
from newsletter.config.schema import Key, Section
from newsletter.errors import ConfigError, NewsletterError
from newsletter.yamldoc import LineMap

__all__ = ["ConfigReader"]

# The kinds of value a setting takes (schema.py's `CHECKED_AS`), and the test and the
# wording of the error for each.
_KINDS: dict[str, tuple[Any, str]] = {
    "text": (lambda v: isinstance(v, (str, int, float)) and not isinstance(v, bool), "must be text"),
    "number": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "must be a number"),
    "flag": (lambda v: isinstance(v, bool), "must be true or false"),
    "list": (lambda v: isinstance(v, list), "must be a list"),
    "mapping": (lambda v: isinstance(v, LineMap), "must be a mapping of settings"),
    "texts": (lambda v: isinstance(v, (str, int, float, LineMap)) and not isinstance(v, bool),
              "must be text, or a text per language ({en: ..., cy: ...})"),
    "any": (lambda v: True, ""),
}


class ConfigReader:
    """Collects every config error instead of stopping at the first; one error per value."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.errors: list[NewsletterError] = []
        self._reported: set[tuple[int | None, str]] = set()
        self.language = "en"  # the config's `language`: which of a `texts` value's languages reads as its text
        self.texts: dict[str, dict[str, str]] = {}  # each `texts` key given per language: its texts by tag

    def error(self, where: LineMap | None, key: str, message: str, hint: str | None = None) -> None:
        line = where.line_of(key) if isinstance(where, LineMap) else None
        if (line, key) in self._reported and line is not None:
            return  # the value is already reported (e.g. its type); one error line per mistake
        self._reported.add((line, key))
        self.errors.append(ConfigError(message, path=self.path, line=line, field=key, hint=hint))

    def validate(self, data: LineMap, schema: Mapping[str, str] | Collection[str], *,
                 context: str = "") -> None:
        """Report every unknown key (with a did-you-mean) and every value of the wrong kind,
        each at its own line. `schema` maps names to kinds, or lists the names only."""
        allowed = sorted(schema)
        where = f" in {context}" if context else ""
        for key in data:
            if key not in schema:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else f"allowed{where}: {', '.join(allowed)}"
                self.error(data, key, f"unknown setting{where}", hint)
            elif isinstance(schema, Mapping) and data[key] is not None:
                test, message = _KINDS[schema[key]]
                if not test(data[key]):
                    self.error(data, key, f"{message}, not {_shown(data[key])}")

    def section(self, data: LineMap, key: str, allowed: Mapping[str, str] | Collection[str]) -> LineMap | None:
        """The nested mapping under `key`, validated against `allowed`; None if absent or not a mapping."""
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, LineMap):
            self.error(data, key, "must be a mapping of settings", f"e.g. {key}: {{name: value, ...}}")
            return None
        self.validate(value, allowed, context=key)
        return value

    def text(self, data: LineMap, key: str, *, required: bool = False) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.error(data, key, "missing", f"add `{key}:` to the config")
            return None
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            self.error(data, key, "must be text")
            return None
        return str(value).strip()

    def number(self, data: LineMap, key: str, default: Any, kind: type = int) -> Any:
        value = data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            self.error(data, key, f"must be a positive number, not {value!r}")
            return default
        return kind(value)

    def path_value(self, data: LineMap, key: str) -> Path | None:
        value = self.text(data, key)
        return (self.path.parent / value).resolve() if value else None

    def value(self, data: LineMap, key: Key) -> Any:
        """One setting read by its kind in the key table, its default filled in from there
        (a missing required key is reported; text then reads as "")."""
        name, default = key.name, None if key.required else key.default
        if key.kind == "text":
            text = self.text(data, name, required=key.required)
            if key.required:
                return text or ""
            return text if text or default is None else default
        if key.kind == "texts":
            text = self.localised(data, name)
            return text if text or default is None else default
        if key.kind == "path":
            return self.path_value(data, name)
        if key.kind in ("int", "float"):
            return self.number(data, name, default, float if key.kind == "float" else int)
        if key.kind == "flag":
            flag = data.get(name, default)
            if not isinstance(flag, bool):
                self.error(data, name, "must be true or false")
                return default
            return flag
        raise ValueError(f"{name}: a {key.kind} has its own reader")

    def localised(self, data: LineMap, key: str) -> str | None:
        """The officer's own words: one text, or `{en: ..., cy: ...}`. The text in the config's
        `language` is returned (it must be there); every language's is kept in `self.texts`."""
        value = data.get(key)
        if not isinstance(value, LineMap):
            return self.text(data, key)
        texts: dict[str, str] = {}
        for tag, text in value.items():
            problem = language_problem(str(tag))
            if problem:
                self.error(value, tag, problem, "use a language tag such as en, cy or fr-FR")
            elif not isinstance(text, (str, int, float)) or isinstance(text, bool) or not str(text).strip():
                self.error(value, tag, "must be text")
            else:
                texts[str(tag)] = str(text).strip()
        if not texts:
            return None
        self.texts[key] = texts
        chosen = pick_text(texts, self.language)
        if chosen is None:
            self.error(data, key, f"no text in {self.language!r}, the config's `language`",
                       f"add `{self.language}: ...` under `{key}:`")
        return chosen

    def values(self, data: LineMap, section: Section, *names: str) -> dict[str, Any]:
        """`value` for the named keys of `section` (every key when none are named)."""
        return {name: self.value(data, section[name]) for name in names or section.names}


def _shown(value: Any) -> str:
    """A wrong value as the error shows it: its kind for containers, short text otherwise."""
    if isinstance(value, LineMap):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
