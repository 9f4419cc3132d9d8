"""Editorial rules: what an editor would catch reading the issue beside the item folder.

They look past the rendered email, at every item file the officer keeps:

- `placeholder` (error): text nobody meant to send, "TK", "TODO", "lorem ipsum", or the
  boilerplate `newsletter new` and `newsletter init` write. `example_placeholders` adds,
  once mail would leave this machine (a relay not on loopback: the build asks when the
  config has one, `send` for `--smtp-host` too), every link, address and setting still on
  a domain reserved for examples (example.org, *.test; RFC 2606): the bundled sample and
  the tests rehearse with those domains on purpose. `send` refuses it when mail
  leaves this machine and only warns for a rehearsal (send/plan.py `check_gate`).
- `embargo` (error): an item whose `embargo_until` is still ahead; sending now breaks it.
- `already-sent` (warning): an item whose title an earlier-dated item already had, so
  readers saw it in an earlier issue; named at both lines.
- `out-of-range` (warning): an item whose file name gives a date in this issue's range
  but whose `date:` puts it elsewhere, so it is silently missing from this issue.
- `generic-link-text` (warning): link text such as "click here" or "read more", which says
  nothing out of context (screen readers list links by their text): each link's
  title, see-also titles, and the first link's label when it is the button.

Data in, findings out: `today`/`now` are passed in, nothing is read here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator

from newsletter.addresses import example_domain_in
from newsletter.issue.checks.findings import Finding, error, warning
from newsletter.issue.items import Item
from newsletter.issue.selection import Issue

__all__ = ["BOILERPLATE", "check_editorial", "example_placeholders", "placeholder_in"]

# What `newsletter new` (start/item.py) and `newsletter init`'s starter items (start/folder.py)
# write for the officer to replace; tests/issue/test_editorial.py checks both still match.
BOILERPLATE = (
    "Say what it is, who it is for and why it matters",
    "This is a starter item made by",
    "A second starter item",
    "A third starter item",
)
_MARKERS = re.compile(r"\b(?:TK|TKTK|TODO|FIXME|XXX)\b|\blorem ipsum\b|\[\s*(?:insert|add)\b[^\]]*\]", re.I)
_CASE_SENSITIVE = {"tk", "tktk", "todo", "fixme", "xxx"}  # the convention is capitals; "todo lists" is prose
_GENERIC = {"click here", "here", "read more", "more", "link", "this link", "click", "more info",
            "find out more", "learn more", "this"}
_NAMED_DATE = re.compile(r"(?:^|/)(\d{4}-\d{2}-\d{2})-[^/]*$")


def placeholder_in(text: str) -> str | None:
    """The placeholder in `text` ("TODO", "lorem ipsum", boilerplate), or None."""
    for phrase in BOILERPLATE:
        if phrase.casefold() in text.casefold():
            return phrase
    for match in _MARKERS.finditer(text):
        if match.group().lower() in _CASE_SENSITIVE and not match.group().isupper():
            continue
        return match.group()
    return None


def _texts(item: Item) -> Iterator[tuple[str, str]]:
    """(field path, text) of everything a reader reads in an item."""
    yield "title", item.title
    yield "source", item.source
    yield "summary", item.summary
    for i, link in enumerate(item.links, 1):
        yield f"links[{i}].label", link.label
        yield f"links[{i}].title", link.title
    for i, also in enumerate(item.see_also, 1):
        yield f"see_also[{i}].title", also.title
    if item.image is not None:
        yield "image.alt", item.image.alt


def _placeholders(item: Item) -> list[Finding]:
    for field, text in _texts(item):
        found = placeholder_in(text)
        if found:
            return [error("placeholder", item.where_of(field), f"{item.title!r} still has placeholder text "
                          f"in {field}: {found!r}", "write the real text, or delete the item")]
    return []


def _example_links(item: Item) -> list[Finding]:
    """Links and images on example.org and the like: every reader would click a dead end."""
    urls = [(f"links[{i}].url", link.url) for i, link in enumerate(item.links, 1)]
    urls += [(f"see_also[{i}].url", also.url) for i, also in enumerate(item.see_also, 1)]
    urls += [("image.src", item.image.src)] if item.image else []
    found = []
    for field, url in urls:
        domain = example_domain_in(url)
        if domain:
            found.append(error("placeholder", item.where_of(field), f"{item.title!r} links to {domain}, a domain "
                               f"reserved for examples: {url}", "link the real page"))
    return found


def _example_settings(config_name: str, config_text: str) -> list[Finding]:
    """Settings still on example.org: the sender, the unsubscribe page, the logo... Found by
    line, comments left out, so each finding points at the value to change."""
    found = []
    for number, line in enumerate(config_text.splitlines(), 1):
        value = line.split(" #", 1)[0]
        if value.lstrip().startswith("#"):
            continue
        domain = example_domain_in(value)
        if domain:
            key = value.split(":", 1)[0].strip(" -") or "value"
            found.append(error("placeholder", f"{config_name}:{number}", f"{key} still uses {domain}, a domain "
                               f"reserved for examples: {value.strip()}",
                               "put your own domain, address or page here before sending for real"))
    return found


def _embargo(item: Item, now: dt.datetime) -> list[Finding]:
    if item.embargo_until is None or item.embargo_until <= now:
        return []
    when = item.embargo_until.strftime("%Y-%m-%d %H:%M %z")
    return [error("embargo", item.where_of("embargo_until"), f"{item.title!r} is embargoed until {when}",
                  "send after then (`send --at`), or leave the item out until it is published")]


def _link_text(item: Item, *, buttons: bool) -> list[Finding]:
    """The words readers click: each link's title, see-also titles, and the first link's
    label when it is the item's button."""
    clicked = [(f"links[{i}].title", link.title) for i, link in enumerate(item.links, 1)]
    clicked += [(f"see_also[{i}].title", also.title) for i, also in enumerate(item.see_also, 1)]
    if buttons and item.links:
        clicked.insert(0, ("links[1].label", item.links[0].label))
    found = []
    for field, text in clicked:
        if " ".join(text.casefold().strip(" .:!…").split()) in _GENERIC:
            found.append(warning("generic-link-text", item.where_of(field),
                                 f"the link text {text!r} says nothing out of context",
                                 "name what it opens, e.g. the report's title or \"Read the guidance\""))
    return found


def _title_key(title: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", title.casefold()).split())


def _already_sent(issue: Issue, earlier: Iterable[Item]) -> list[Finding]:
    seen: dict[str, Item] = {}
    for item in sorted(earlier, key=lambda i: i.date):
        seen.setdefault(_title_key(item.title), item)
    found = []
    for item in issue.items:
        first = seen.get(_title_key(item.title))
        if first is not None:
            found.append(warning("already-sent", item.where_of("title"),
                                 f"{item.title!r} was already in an earlier issue: {first.where_of('title')} "
                                 f"(dated {first.date.isoformat()})",
                                 "leave it out, or say what is new in the title"))
    return found


def _out_of_range(issue: Issue, items: Iterable[Item]) -> list[Finding]:
    found = []
    for item in items:
        named = _NAMED_DATE.search(item.path)
        if named is None or item.date in issue.range:
            continue
        try:
            day = dt.date.fromisoformat(named.group(1))
        except ValueError:
            continue
        if day in issue.range:
            found.append(warning("out-of-range", item.where_of("date"),
                                 f"the file is named for {day.isoformat()} but dated {item.date.isoformat()}, "
                                 f"so it is not in this issue ({issue.range.slug})",
                                 "correct `date:` if it belongs here, or rename the file"))
    return found


def check_editorial(issue: Issue, items: Iterable[Item], *, now: dt.datetime,
                    buttons: bool = True) -> list[Finding]:
    """The editorial rules over `issue`, given every item loaded (earlier issues' too)."""
    everything = list(items)
    earlier = [item for item in everything if item.date < issue.range.start]
    found: list[Finding] = []
    for item in issue.items:
        found += _placeholders(item) + _embargo(item, now) + _link_text(item, buttons=buttons)
    return found + _already_sent(issue, earlier) + _out_of_range(issue, everything)


def example_placeholders(issue: Issue, config_name: str, config_text: str) -> list[Finding]:
    """`placeholder` errors for every setting (by its line in the config) and every item
    link or image still on a reserved example domain: what `send` refuses to mail out."""
    found = _example_settings(config_name, config_text)
    for item in issue.items:
        found += _example_links(item)
    return found
