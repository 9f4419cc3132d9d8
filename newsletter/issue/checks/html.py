"""Rules over the HTML part as a reader meets it: language, layout tables, images, colours.

These are the accessibility and rendering problems a template or an item can cause:
a screen reader that guesses the language or reads layout as data, an image without
useful alt text or that will not load, text too faint to read against its background.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from newsletter.config import AA_CONTRAST, Colors, contrast_ratio, palette_for, scheme_pairs
from newsletter.issue.checks.document import line_of
from newsletter.issue.checks.findings import Finding, error, note, warning

__all__ = [
    "GENERIC_ALT",
    "check_contrast",
    "check_images",
    "check_lang",
    "check_mso",
    "check_tables",
]

GENERIC_ALT = {"image", "photo", "picture", "graphic", "img", "pic", "thumbnail", "banner",
               "image representing news article", "news image", "article image", "placeholder"}
_IMAGE_EXT = re.compile(r"^[\w.-]+\.(jpe?g|png|gif|webp|svg|bmp|avif)$", re.IGNORECASE)


def check_lang(doc: Any) -> list[Finding]:
    if (doc.get("lang") or "").strip():
        return []
    return [error("html-lang", line_of(doc), "<html> has no lang attribute; screen readers guess the "
                  "language and mispronounce the issue", 'set `language:` in the config and keep '
                  '<html lang="{{ lang }}"> in the template')]


def check_tables(doc: Any) -> list[Finding]:
    """Layout tables need role="presentation", or screen readers announce rows and columns."""
    findings = []
    for table in doc.iter("table"):
        is_data = table.find(".//th") is not None or table.find("caption") is not None
        if not is_data and (table.get("role") or "").strip().lower() not in ("presentation", "none"):
            findings.append(warning("layout-table", line_of(table), "a layout table without "
                                    'role="presentation" (screen readers read it out as a data table)',
                                    'add role="presentation" to the <table> in the template'))
    return findings


def check_images(doc: Any, locate: Callable[..., str] = lambda u, w, field="url": w) -> list[Finding]:
    findings = []
    for img in doc.iter("img"):
        src = (img.get("src") or "").strip()
        where = locate(src, line_of(img))
        alt = img.get("alt")
        findings += _alt_findings(alt, src, locate(src, line_of(img), field="alt"))
        scheme = urlsplit(src).scheme.lower()
        if scheme == "http":
            findings.append(warning("image-https", where, f"image {src} is not served over https; "
                                    "some mail clients block it or warn", "use the https:// address"))
        elif scheme != "https":
            findings.append(error("image-src", where, f"image source {src or '(empty)'!r} will not load "
                                  "in mail clients", "use an absolute https:// address"))
    return findings


def _alt_findings(alt: str | None, src: str, where: str) -> list[Finding]:
    if alt is None:
        return [error("image-alt", where, f"image {src} has no alt text",
                      "describe what the image shows in `image.alt`")]
    words = " ".join(alt.split()).strip(" .").casefold()
    name = PurePosixPath(unquote(urlsplit(src).path)).name.casefold()
    if not words:
        return [warning("image-alt", where, f"image {src} has empty alt text (screen readers skip it)",
                        "fine for decoration; otherwise describe what the image shows")]
    if words in GENERIC_ALT or words in {name, name.rpartition(".")[0]} or _IMAGE_EXT.match(words):
        return [warning("image-alt", where, f"image alt text {alt!r} says nothing about the image",
                        "describe what it shows, e.g. 'A teenager looking at a phone'")]
    return []


_CONFIG_KEY = {"text": "text", "link": "accent", "muted": "muted", "on_mast": "accent"}


def check_contrast(colors: Colors, *, where: str = "newsletter.yaml") -> list[Finding]:
    """Every text/background pair the template draws, in light and in (derived) dark mode,
    and a note for each colour the palette adjusted to reach AA (a light accent's links)."""
    palette = palette_for(colors)
    findings = [note("contrast-adjusted", f"{where}: {a.key}",
                     f"{a.role} drawn in {a.adjusted} instead of {a.key} {a.original}, which has contrast "
                     f"{a.before:.1f}:1 on {a.background} ({a.adjusted}: {a.after:.1f}:1; WCAG AA needs 4.5:1)",
                     f"nothing to fix; to choose the colour yourself, set {a.key} to one that reads on "
                     f"{a.background}")
                for a in palette.adjustments]
    seen: set[tuple[str, str]] = set()
    for mode, scheme in (("", palette.light), (" (dark mode)", palette.dark)):
        for fg, bg, role in scheme_pairs(scheme):
            fore, back = getattr(scheme, fg), getattr(scheme, bg)
            ratio = contrast_ratio(fore, back)
            if ratio >= AA_CONTRAST or (fore, back) in seen:
                continue  # dark mode keeps the masthead's colours: one finding for both modes
            seen.add((fore, back))
            key = _CONFIG_KEY[fg]
            label = f"colors.{key}{' (masthead)' if fg == 'on_mast' else ''}{mode}"
            if fg != "on_mast" and not mode:
                what = f"colors.{key} {fore} on colors.background {back}"
            else:
                what = f"{role}{mode}: {fore} on {back}"
            findings.append(error("contrast", f"{where}: {label}",
                                  f"{what} has contrast {ratio:.1f}:1; {role} need at least 4.5:1 (WCAG AA)",
                                  _contrast_hint(fg, mode)))
    return findings


def _contrast_hint(fg: str, mode: str) -> str:
    if mode:
        return f"dark mode derives from colors.accent and colors.background; adjust colors.{_CONFIG_KEY[fg]}"
    return f"darken colors.{_CONFIG_KEY[fg]} or lighten colors.background"


_CONDITIONAL = re.compile(r"<!--\[if ([^\]]+)\]>(<!-->)?|(<!--)?<!\[endif\]-->")
_MSO_TAG = re.compile(r"<(/?)(table|tr|td|v:roundrect|v:rect|v:textbox|center)\b[^>]*?(/?)>", re.IGNORECASE)


def mso_markup(html: str) -> tuple[str, list[str]]:
    """The markup only Outlook for Windows sees (every `<!--[if mso]>` block, in order), and
    what is wrong with the conditional comments themselves (unclosed, nested, stray)."""
    problems: list[str] = []
    parts: list[str] = []
    opened: re.Match[str] | None = None
    for match in _CONDITIONAL.finditer(html):
        if match.group(1) is not None:
            if opened is not None:
                problems.append(f"<!--[if {match.group(1)}]> opens inside another conditional comment")
            opened = match
        elif opened is None:
            problems.append("<![endif]--> without an opening <!--[if ...]>")
        else:
            if "!" not in opened.group(1) and "mso" in opened.group(1):
                parts.append(html[opened.end():match.start()])
            opened = None
    if opened is not None:
        problems.append(f"<!--[if {opened.group(1)}]> is never closed with <![endif]-->")
    return "".join(parts), problems


def check_mso(html: str) -> list[Finding]:
    """Outlook's conditional markup must open and close cleanly: one unclosed ghost table in
    Word's renderer swallows the rest of the email."""
    markup, problems = mso_markup(html)
    stack: list[str] = []
    for match in _MSO_TAG.finditer(markup):
        closing, tag, empty = match.group(1), match.group(2).lower(), match.group(3)
        if empty:
            continue
        if not closing:
            stack.append(tag)
        elif stack and stack[-1] == tag:
            stack.pop()
        else:
            problems.append(f"Outlook-only markup closes </{tag}> where {stack[-1] if stack else 'nothing'} is open")
            break
    if stack and not problems:
        problems.append(f"Outlook-only markup leaves <{'>, <'.join(stack)}> open")
    return [error("mso-markup", "email.html", f"{p}; Outlook for Windows would break the layout",
                  "fix the <!--[if mso]> blocks in your template (compare with the bundled email_layout.html)")
            for p in problems]
