"""The rendered email made fit to send: CSS inlined (premailer), lines and styles tidied.

Mail clients ignore or strip `<style>` (Gmail's app, Outlook's Word engine), so every rule
goes onto its elements; the @media rules stay in `<style>` for the clients that read them.
Kept apart from rendering so the site and the confirmation mail inline the same way.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from premailer import Premailer

from newsletter.errors import BuildError

__all__ = ["compact_style", "inline_css", "tidy_html", "tidy_text"]


class _Inliner(Premailer):
    """premailer with its per-stylesheet work kept between calls, keyed by the CSS text.

    Every theme variant of an issue (and every preview rebuild) inlines the same <style>:
    parsing it and serialising the kept @media rules was about 60% of each inlining.
    The cached results are never changed by premailer (the rule list is copied), so the
    output is byte-identical to an uncached run.
    """

    _parsed: dict[tuple[Any, ...], tuple[list[Any], list[Any]]] = {}
    _kept: dict[int, str] = {}  # id of a cached leftover list -> its CSS text

    def _parse_style_rules(self, css_body: str, ruleset_index: int) -> tuple[list[Any], list[Any]]:
        key = (css_body, ruleset_index, self.strip_important, self.disable_validation,
               self.exclude_pseudoclasses, self.include_star_selectors)
        found = self._parsed.get(key)
        if found is None:
            if len(self._parsed) >= 32:
                self._parsed.clear()
                self._kept.clear()
            found = self._parsed[key] = super()._parse_style_rules(css_body, ruleset_index)
        return list(found[0]), found[1]

    def _css_rules_to_string(self, rules: list[Any]) -> str:
        text = self._kept.get(id(rules))
        if text is None:
            text = super()._css_rules_to_string(rules)
            if any(rules is cached[1] for cached in self._parsed.values()):
                self._kept[id(rules)] = text
        return text


def inline_css(html: str) -> str:
    """Inline the <style> rules once per issue; @media blocks stay in <style>, !important kept."""
    try:
        return _Inliner(
            html,
            allow_network=False,
            allow_loading_external_files=False,
            keep_style_tags=False,
            strip_important=False,
            remove_classes=False,
            disable_validation=True,
            cssutils_logging_level=logging.CRITICAL,
            align_floating_images=False,
            disable_basic_attributes=["width", "height", "bgcolor", "align", "valign"],
        ).transform(pretty_print=False)
    except Exception as exc:  # premailer raises bare errors on some CSS; say where
        raise BuildError(f"could not inline the CSS: {exc}",
                         hint="simplify the stylesheet (nested @media rules are a known trigger)") from exc


def tidy_html(html: str) -> str:
    """Drop blank lines; keep every line short of SMTP's 998-octet limit by breaking at tags."""
    lines = [line.rstrip() for line in html.splitlines() if line.strip()]
    out = []
    for line in lines:
        while len(line.encode("utf-8")) > 900:
            cut = line.rfind("><", 0, 800) + 1 or line.rfind(" ", 0, 800) + 1
            if cut <= 0:
                break
            out.append(line[:cut])
            line = line[cut:]
        out.append(line)
    return "\n".join(out) + "\n"


def compact_style(html: str) -> str:
    """premailer pretty-prints the kept @media rules; squeeze them back to a few lines."""
    def squeeze(match: re.Match[str]) -> str:
        css = re.sub(r"\s*([{};:,])\s*", r"\1", match.group(2))
        return match.group(1) + css.replace("}", "}\n").strip() + match.group(3)

    return re.sub(r"(<style[^>]*>)(.*?)(</style>)", squeeze, html, flags=re.S)


def tidy_text(text: str) -> str:
    """No trailing spaces, at most one blank line in a row, one final newline."""
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"
