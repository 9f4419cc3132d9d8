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

from newsletter.config.sections import Colors
from newsletter.issue.checks.document import line_of
from newsletter.issue.checks.findings import Finding, error, warning

__all__ = [
    "AA_CONTRAST",
    "GENERIC_ALT",
    "check_contrast",
    "check_images",
    "check_lang",
    "check_tables",
    "contrast_ratio",
]

AA_CONTRAST = 4.5
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


def _luminance(color: str) -> float:
    channels = [int(color.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio between two #rrggbb colours, from 1 to 21."""
    a, b = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def check_contrast(colors: Colors, *, where: str = "newsletter.yaml") -> list[Finding]:
    findings = []
    for fg, role in (("text", "body text needs"), ("accent", "links need"), ("muted", "dates and the footer need")):
        ratio = contrast_ratio(getattr(colors, fg), colors.background)
        if ratio < AA_CONTRAST:
            findings.append(error("contrast", f"{where}: colors.{fg}",
                                  f"colors.{fg} {getattr(colors, fg)} on colors.background {colors.background} "
                                  f"has contrast {ratio:.1f}:1; {role} at least 4.5:1 (WCAG AA)",
                                  f"darken colors.{fg} or lighten colors.background"))
    return findings
