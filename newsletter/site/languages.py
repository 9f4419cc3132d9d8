"""The reader's language on the subscriber site, when the list offers more than one.

Which language a page speaks, first match wins:

| page                     | first        | then                                 | then              | else              |
|--------------------------|--------------|--------------------------------------|-------------------|-------------------|
| sign-up form, its answers | `?lang=`    | -                                    | `Accept-Language` | config `language` |
| confirm (the mailed link) | `?lang=`    | the language chosen on the form      | -                 | config `language` |
| unsubscribe, topics       | `?lang=`    | chosen on the site, else last send's | -                 | config `language` |

`?lang=` changes only what the page shows, never what is stored (a GET never changes
state, and a forwarded link must not change anyone's language); a POST keeps it, as
forms post back to their own address. A value the config does not offer is ignored
there, and refused (400, one message, nothing stored) in a form field: only a tag of the
config's `languages` is ever written. With one language every page speaks it, offers no
choice and shows no links: nothing changes from a one-language list.

Each language is named in itself ("Cymraeg", "English", "français"), from Babel's CLDR
data, so a reader finds theirs whatever language the page is in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request

from newsletter import journal
from newsletter.config import Config, babel_locale, pick_text

__all__ = ["LanguageOption", "accepted_language", "form_language", "language_options", "language_switch",
           "offered", "own_name", "query_language", "reader_language"]

MAX_ACCEPT = 512  # characters of `Accept-Language` read; browsers send a few dozen
MAX_RANGES = 16  # language ranges considered from it
_RANGE_RE = re.compile(r"\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)\s*(?:;\s*q\s*=\s*([0-9.]{1,5}))?\s*")
_TAG_RE = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8}){0,3}")


@dataclass(frozen=True)
class LanguageOption:
    """One language as a page offers it: a radio button, or a link to the page in it."""

    tag: str  # as the config spells it: the form's value and `<... lang>`
    name: str  # in itself: "Cymraeg"
    current: bool  # the page's (or the reader's) language
    href: str = ""  # the page in this language (links only)


def offered(config: Config) -> bool:
    """Whether readers have a language to choose: the config lists more than one."""
    return len(config.languages) > 1


def own_name(tag: str, config: Config) -> str:
    """The language named in itself, capitalised as in a list ("Français"); with the
    region when two offered languages share a name (`en-GB`, `en-US`)."""
    locale = babel_locale(tag)
    names = [babel_locale(t).get_language_name(babel_locale(t)) for t in config.languages]
    name = locale.get_language_name(locale) or tag
    if names.count(name) > 1:
        name = locale.get_display_name(locale) or tag
    return name[:1].upper() + name[1:]


def _offered_tag(config: Config, value: str) -> str | None:
    """`value` as the config spells it, if it names one of its languages exactly (case and
    `-`/`_` aside); None otherwise."""
    if not _TAG_RE.fullmatch(value):
        return None
    wanted = value.replace("_", "-").lower()
    return next((tag for tag in config.languages if tag.replace("_", "-").lower() == wanted), None)


def query_language(request: Request, config: Config) -> str | None:
    """The offered language a `?lang=` link asks the page to speak; None for none or another."""
    value = request.query_params.get("lang", "")
    return _offered_tag(config, value[:35]) if offered(config) and value else None


def form_language(form: FormData, config: Config) -> tuple[str | None, bool]:
    """The `language` field of a posted form: (the tag, True), (None, True) when there is no
    field, or (None, False) when it names no language the config offers (refuse it)."""
    values = form.getlist("language")
    if not values:
        return None, True
    if len(values) > 1 or not isinstance(values[0], str):
        return None, False
    tag = _offered_tag(config, values[0].strip()[:35])
    return tag, tag is not None


def accepted_language(config: Config, header: str) -> str | None:
    """The offered language the browser prefers (`Accept-Language`, by its q-values, the
    first listed first among equals): the same tag, else the same language (`cy-GB` finds
    `cy`); None when it accepts none of them. Read bounded: a long header is cut short."""
    ranges: list[tuple[float, int, str]] = []
    for index, part in enumerate(header[:MAX_ACCEPT].split(",")[:MAX_RANGES]):
        match = _RANGE_RE.fullmatch(part)
        if not match:
            continue
        try:
            quality = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        if quality > 0:
            ranges.append((-quality, index, match.group(1)))
    choices = {tag: tag for tag in config.languages}
    for _, _, tag in sorted(ranges):
        found = pick_text(choices, tag)
        if found is not None:
            return found
    return None


def reader_language(db: journal.Db, email: str, config: Config) -> str:
    """The language a reader receives: chosen on the site, else the one the newest send
    planned for them (the CSV's `language` column then), else the config's. One the
    config no longer offers counts as none (resolve does the same)."""
    if not offered(config):
        return config.language
    for found in (journal.get_language(db, email), journal.latest_recipient_language(db, email)):
        tag = pick_text({t: t for t in config.languages}, found) if found else None
        if tag:
            return tag
    return config.language


def language_options(config: Config, current: str) -> list[LanguageOption]:
    """The radio buttons of a form: every offered language, `current` checked."""
    return [LanguageOption(tag, own_name(tag, config), tag == current) for tag in config.languages]


def language_switch(request: Request, config: Config, current: str) -> list[LanguageOption]:
    """Links to this page in each offered language (the same address, `lang` replaced); none
    for a one-language list."""
    if not offered(config):
        return []
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return [LanguageOption(tag, own_name(tag, config), tag == current,
                           f"{request.url.path}?{urlencode([*kept, ('lang', tag)])}")
            for tag in config.languages]
