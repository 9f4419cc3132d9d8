"""The reader's language: the catalogue a page or mail takes its words from, and its dates.

Every reader-facing word (email, quiet note, subscriber pages, confirmation mail, archive)
comes from a gettext catalogue under `newsletter/locale/<lang>/LC_MESSAGES/newsletter.po`;
dates, month names, ranges, numbers and plural rules come from Babel's CLDR data for the
same language. The officer's CLI stays English: it is a tool, not the newsletter.

Decisions, each with its reason:

- The `.po` is read at first use and compiled in memory (`write_mo`); no `.mo` is kept in
  the repository or built at install: one file per language to review and diff, and a
  fresh `pip install` needs no build step (about 10 ms once per language and process).
- A fuzzy entry is never used: a translator marked it unsure, and the English reads
  better than a wrong sentence.
- `language: fr-FR` takes the `fr` catalogue and `fr_FR` dates: the tag stays what the
  officer wrote (`<html lang>`); the words need only the language.
- Plain `en` formats dates as `en_GB` ("3 July 2023"), the house style before catalogues
  existed; `en-US` gives "July 3, 2023".
- `<config folder>/locale/<lang>/LC_MESSAGES/newsletter.po` is read first, so an officer
  adds a language, or rewords one sentence, without forking the package.

It sits at the top with `daterange`: the issue, the site, the send and the archive all
speak it, and it needs nothing of theirs.
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import io
import os
import re
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import DateTimeFormat, format_date, format_skeleton, parse_pattern
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

from newsletter.daterange import DateRange

__all__ = ["DOMAIN", "LOCALE_DIR", "SHIPPED", "babel_locale", "catalogue_language", "language_name", "format_day", "format_month",
           "format_number", "format_period", "format_span", "language_problem", "pick_text",
           "translations"]

DOMAIN = "newsletter"
LOCALE_DIR = Path(__file__).parent.parent / "locale"  # newsletter/locale/, shipped as package data
SHIPPED = ("en", "fr", "de", "es", "cy")  # every one complete (tests/config/test_i18n.py)


def pick_text(texts: dict[str, str], tag: str) -> str | None:
    """The officer's text for `tag` among their per-language texts: the same tag, else the
    same language (`cy` for `cy-GB`, `fr-FR` for `fr`); None when it is not given."""
    wanted = _key(tag)
    for given, text in texts.items():
        if _key(given) == wanted:
            return text
    for given, text in texts.items():
        if _key(given).split("_")[0] == wanted.split("_")[0]:
            return text
    return None


def _key(tag: str) -> str:
    return tag.strip().replace("-", "_").lower()


def language_problem(tag: str) -> str | None:
    """Why `tag` cannot be a newsletter's language (None when it can): Babel must know it."""
    try:
        babel_locale(tag)
    except (ValueError, UnknownLocaleError):
        return f"not a language tag Babel knows: {tag!r}"
    return None


@functools.lru_cache(maxsize=64)
def babel_locale(tag: str) -> Locale:
    """The CLDR locale for a language tag as the officer writes it (`fr-FR`, `cy`, `en`)."""
    tag = tag.strip().replace("-", "_")
    if tag.lower() == "en":
        tag = "en_GB"
    return Locale.parse(tag)


def language_name(tag: str) -> str:
    """The language's own name for itself, from CLDR ("Cymraeg", "English", "français"):
    what a reader of that language looks for in an email carrying several."""
    locale = babel_locale(tag)
    return locale.get_language_name(locale) or tag


def catalogue_language(tag: str, own: Path | None = None) -> str | None:
    """The catalogue folder name for `tag`: the whole tag if there is one, else its language."""
    locale = babel_locale(tag)
    for name in (str(locale), locale.language):
        if (own and (own / name).is_dir()) or (LOCALE_DIR / name).is_dir():
            return name
    return None


def translations(tag: str, own: Path | None = None) -> gettext.NullTranslations:
    """The words for `tag`: the officer's catalogue (under `own`) first, then the shipped
    one; English words (the msgids) where neither has the message.

    A send asks once per message (the greeting), so the places to look are worked out once
    and each is one `os.stat`: a catalogue added or edited while the preview runs is read
    on the next rebuild, at a few microseconds a call.
    """
    files = []
    for candidates in _catalogue_places(tag, own):
        for path in candidates:
            try:
                files.append((path, os.stat(path).st_mtime_ns))  # an edited catalogue is read again
                break
            except OSError:
                continue
    return _translations(tuple(files))


@functools.lru_cache(maxsize=64)
def _catalogue_places(tag: str, own: Path | None) -> tuple[tuple[str, ...], ...]:
    """Per folder (the officer's, then the shipped one), the catalogue files that would serve `tag`."""
    locale = babel_locale(tag)
    return tuple(tuple(str(folder / name / "LC_MESSAGES" / f"{DOMAIN}.po") for name in (str(locale), locale.language))
                 for folder in (own, LOCALE_DIR) if folder)


@functools.lru_cache(maxsize=32)
def _translations(files: tuple[tuple[str, int], ...]) -> gettext.NullTranslations:
    found = [_compiled(path) for path, _ in files]
    if not found:
        return gettext.NullTranslations()
    for lower in found[1:]:
        found[0].add_fallback(lower)
    return found[0]


def _compiled(path: str) -> Translations:
    """A `.po` compiled in memory; fuzzy entries left out."""
    with open(path, "rb") as file:
        catalog = read_po(file, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def format_day(day: dt.date, tag: str) -> str:
    """A date as a reader writes it: "3 July 2023", "3 juillet 2023", "3. Juli 2023"."""
    return format_date(day, "long", locale=babel_locale(tag))


def format_month(day: dt.date, tag: str) -> str:
    """A month and year: "July 2023", "juillet 2023", "Gorffennaf 2023"."""
    return format_skeleton("yMMMM", day, locale=babel_locale(tag))


def format_period(period: DateRange, tag: str) -> str:
    """An issue's period: its month ("juillet 2023"), else the range in full month names
    ("1–15 July 2023", "1 June – 15 July 2023"). CLDR has no full-name range pattern, so
    its short-month one is widened (MMM -> MMMM), as its own spec allows."""
    if period.is_month:
        return format_month(period.start, tag)
    return format_span(period, tag)


def format_span(period: DateRange, tag: str) -> str:
    """The days a period covers, month or not: "1–31 July 2023", "1 June – 15 July 2023"."""
    locale = babel_locale(tag)
    if period.start == period.end:
        return format_day(period.start, tag)
    forms = locale.interval_formats.get("yMMMd") or {}
    if "y" in forms and _widened(forms["y"][1]) == locale.date_formats["long"].pattern:  # else "de" etc. are lost
        start, end = DateTimeFormat(period.start, locale), DateTimeFormat(period.end, locale)
        for field in ("y", "M", "d"):
            if field in forms and start.extract(field) != end.extract(field):
                first, second = (_widened(pattern).replace("\u2009", " ") for pattern in forms[field])
                if field == "d":  # between two days a plain en dash, "1–31" (CLDR's en_GB spaces it)
                    first = first.replace(" – ", "–")
                return parse_pattern(first).apply(period.start, locale) + parse_pattern(second).apply(period.end, locale)
    return f"{format_day(period.start, tag)} – {format_day(period.end, tag)}"


def _widened(pattern: str) -> str:
    return re.sub(r"(?<!M)MMM(?!M)", "MMMM", pattern)


def format_number(number: int | float, tag: str) -> str:
    """A number with the language's digits grouping: 1,234 / 1 234 / 1.234."""
    return format_decimal(number, locale=babel_locale(tag))
