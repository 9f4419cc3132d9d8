"""YAML loading that remembers line numbers, so every error can name FILE:LINE.

Dates are kept as strings (the timestamp resolver is removed) so that an impossible
date such as 2023-02-30 becomes a clear item error instead of a YAML crash.

Anchors and aliases (`&name`, `*name`, and the `<<` merges built on them) are refused:
no item or config needs them, and a few hundred bytes of nested aliases expand into
gigabytes (the "billion laughs" bomb). Checking costs one event scan, and only for text
that contains `&` or `*` (or enough brackets and dashes to nest deeply) at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from newsletter.errors import NewsletterError

__all__ = ["LineMap", "load_yaml", "parse_yaml"]


class LineMap(dict):
    """A YAML mapping that knows its own line and the line of each key."""

    line: int
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser when available (about 10x faster), Python's otherwise."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)
    result = LineMap()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        key = str(key)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


MAX_DEPTH = 100  # items and the config nest four levels; libyaml crashes near 20,000
_NESTING = "[{-?:"


def _may_be_hostile(text: str) -> bool:
    """Cheap test whether the text could hold an anchor, an alias or deep nesting."""
    return "&" in text or "*" in text or max(text.count(c) for c in _NESTING) > 2 * MAX_DEPTH


def _refuse_hostile(text: str, path: str | Path) -> None:
    """Raise at the first anchor or alias (their expansion is unbounded) or at nesting
    deeper than `MAX_DEPTH` (libyaml's composer recurses and can crash the process)."""
    if not _may_be_hostile(text):
        return
    try:
        _scan(text, path, _Loader)
    except yaml.YAMLError:
        # libyaml may refuse deep nesting itself, in its own words, before our count sees
        # it (PyYAML 6.0.4's wheels stop at 1,000 levels). Python's parser has no such limit
        # and streams events, so it finds our depth and our message; other errors stand.
        if max(text.count(c) for c in _NESTING) <= MAX_DEPTH:
            raise
        _scan(text, path, yaml.SafeLoader)
        raise


def _scan(text: str, path: str | Path, loader: type) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        line = event.start_mark.line + 1 if event.start_mark else None
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            sign = "*" if isinstance(event, yaml.AliasEvent) else "&"
            raise NewsletterError(f"YAML anchors and aliases are not allowed ({sign}{anchor})",
                                  path=path, line=line, hint="write the value out in full")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise NewsletterError(f"YAML nested more than {MAX_DEPTH} levels deep", path=path,
                                      line=line, hint="an item or the config needs only a few levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def parse_yaml(text: str, path: str | Path) -> Any:
    """Parse YAML text; a syntax error, an alias or absurd nesting becomes a `NewsletterError`
    naming the line."""
    try:
        _refuse_hostile(text, path)
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or "invalid YAML"
        raise NewsletterError(
            f"YAML syntax error: {problem}",
            path=path,
            line=line,
            hint="check indentation and quote values containing ':' or '#'",
        ) from exc
    except yaml.YAMLError as exc:
        raise NewsletterError(f"YAML error: {exc}", path=path) from exc
    except RecursionError as exc:
        raise NewsletterError("YAML nested too deeply", path=path, line=1,
                              hint="an item or the config needs only a few levels") from exc


def load_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise NewsletterError("not UTF-8 text", path=path, hint="save the file as UTF-8") from exc
    except OSError as exc:
        raise NewsletterError(f"cannot read: {exc.strerror}", path=path) from exc
    return parse_yaml(text, path)
