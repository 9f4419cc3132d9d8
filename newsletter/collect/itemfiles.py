"""New item files: an `Item` as YAML in the README's layout, created under a free name.

The text is meant for a person to edit: fields in the README's order, the summary as a
wrapped block, a `# needs a theme` comment when no rule gave one. A file is never
overwritten: the first free name of `DATE-slug.yaml`, `-2`, `-3`, ... is created
exclusively (a hard link to a complete temp file), so not even a file a concurrent run
has just created is replaced.
"""

from __future__ import annotations

import datetime as dt
import re
import textwrap
import unicodedata
from pathlib import Path
from typing import Any

import yaml

from newsletter.config import Config
from newsletter.errors import CollectError
from newsletter.files import atomic_write
from newsletter.issue import Item

__all__ = [
    "dated_file_names",
    "item_file_names",
    "item_yaml",
    "write_item_file",
]


class _Dumper(yaml.SafeDumper):
    """Lists indented under their key, as in the README's item example."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _represent_str)


_BLOCK_START = re.compile(r"^(?:[-+*]|#{1,6}|>|\d+[.)]|=+|`{3,}|~{3,})(?:\s|$)")
_MARKER = re.compile(r"^(?:[-+*] |\d+[.)] |> )")


def _wrap_markdown(markdown: str, width: int = 84) -> str:
    """Markdown wrapped for a person editing the file; a wrapped line never starts with
    something that would make it a list item, heading or quote."""
    out: list[str] = []
    for line in markdown.splitlines():
        marker = _MARKER.match(line)
        indent = "> " if marker and marker[0] == "> " else " " * (len(marker[0]) if marker else 0)
        wrapped = textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=False,
                                break_on_hyphens=False) or [""]
        merged = [wrapped[0]]
        for part in wrapped[1:]:
            if _BLOCK_START.match(part[len(indent):]):
                merged[-1] += " " + part[len(indent):]
            else:
                merged.append(part)
        out.extend(merged)
    return "\n".join(out)


def item_yaml(item: Item, config: Config, *, origin: str = "") -> str:
    """The item file's text: fields in the README's order, the summary as a block."""
    data: dict[str, Any] = {
        "title": item.title,
        "date": item.date,
        "source": item.source,
        "theme": item.theme,
        "summary": _wrap_markdown(item.summary.strip()) + "\n",
        "links": [{"label": link.label, "title": link.title, "url": link.url} for link in item.links],
    }
    if item.see_also:
        data["see_also"] = [{"title": s.title, "url": s.url} for s in item.see_also]
    if item.image:
        data["image"] = {"src": item.image.src, "alt": item.image.alt}
    if item.guid:
        data["guid"] = item.guid
    text = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=88)
    if not item.theme:
        text = text.replace("\ntheme: ''\n", f'\ntheme: ""  # needs a theme: one of {", ".join(config.themes)}\n', 1)
    head = f"# Collected by `newsletter collect` from {origin}\n" if origin else ""
    return head + text


def _slug(title: str) -> str:
    """A file-name stem from a title: ASCII, lower case, dashes, at most about 60 characters."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    if len(slug) > 60:
        slug = slug[:61].rsplit("-", 1)[0]
    return slug or "item"


def item_file_names(item: Item) -> list[str]:
    """The names to try, in order: the date first so items/ lists in date order."""
    return dated_file_names(item.date, item.title)


def dated_file_names(date: dt.date, title: str) -> list[str]:
    """`YYYY-MM-DD-slug.yaml`, then `-2`, `-3`...: what `collect` and `newsletter new` write."""
    base = f"{date.isoformat()}-{_slug(title)}"
    return [f"{base}.yaml"] + [f"{base}-{n}.yaml" for n in range(2, 1000)]


def write_item_file(folder: Path, names: list[str], text: str) -> Path:
    """Create the first free name exclusively (hard link of a complete temp file), so an
    existing file is never overwritten, even by a concurrent run."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for name in names:
            try:
                atomic_write(folder / name, text, exclusive=True)
            except FileExistsError:
                continue
            return folder / name
    except OSError as exc:
        raise CollectError(f"cannot write an item file: {exc.strerror}", path=folder) from exc
    raise CollectError("too many files with the same name", path=folder / names[0])
