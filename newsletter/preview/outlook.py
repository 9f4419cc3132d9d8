"""A rough picture of the email in Outlook for Windows, for the preview's "Outlook" view.

Outlook's desktop versions for Windows draw HTML mail with Word's engine, which ignores
much of CSS. This view shows what the email leaves to Word: the `<!--[if mso]>` blocks
(ghost tables, VML buttons) are opened, what is hidden from Outlook (`<!--[if !mso]>`)
is dropped, the `<style>` block (media queries, dark mode) is removed, and the inline
declarations Word ignores (max-width, display, flex, border-radius, shadows) are struck
out. It is an approximation made in the browser, not Word: it catches a layout that
depends on `max-width` or a button that only exists as CSS, not every Word quirk.
"""

from __future__ import annotations

import re

__all__ = ["IGNORED_BY_WORD", "outlook_view"]

IGNORED_BY_WORD = ("max-width", "min-width", "display", "flex", "flex-direction", "flex-wrap",
                   "border-radius", "box-shadow", "position", "float", "background-image")

_HIDDEN_FROM_MSO = re.compile(r"<!--\[if !mso\]><!-->.*?<!--<!\[endif\]-->", re.DOTALL)
_MSO_ONLY = re.compile(r"<!--\[if [^\]]*mso[^\]]*\]>(.*?)<!\[endif\]-->", re.DOTALL)
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>.*?</style>", re.DOTALL | re.IGNORECASE)
_OFFICE_XML = re.compile(r"<noscript>\s*<xml>.*?</xml>\s*</noscript>", re.DOTALL | re.IGNORECASE)
_STYLE_ATTR = re.compile(r'(\sstyle=")([^"]*)(")', re.IGNORECASE)
_ROUNDRECT = re.compile(r"<v:roundrect\b([^>]*)>(.*?)</v:roundrect>", re.DOTALL | re.IGNORECASE)


def _attr(attrs: str, name: str) -> str:
    match = re.search(rf'\b{name}="([^"]*)"', attrs)
    return match.group(1) if match else ""


def _button(match: re.Match[str]) -> str:
    """A VML button as the browser can draw it: a filled cell of the VML's size."""
    attrs, inner = match.group(1), match.group(2)
    style = _attr(attrs, "style")
    width = re.search(r"width:\s*(\d+)px", style)
    height = re.search(r"height:\s*(\d+)px", style)
    label = re.sub(r"<w:anchorlock\s*/>", "", inner)
    return (f'<table role="presentation" cellpadding="0" cellspacing="0" border="0"><tr>'
            f'<td bgcolor="{_attr(attrs, "fillcolor")}" width="{width.group(1) if width else ""}" '
            f'height="{height.group(1) if height else ""}" align="center">'
            f'<a href="{_attr(attrs, "href")}" style="text-decoration:none">{label}</a></td></tr></table>')


def _strip_declarations(match: re.Match[str]) -> str:
    kept = [d for d in match.group(2).split(";")
            if d.strip() and d.split(":", 1)[0].strip().lower() not in IGNORED_BY_WORD]
    return match.group(1) + ";".join(kept) + match.group(3)


def outlook_view(html: str) -> str:
    """The email as Word's renderer roughly sees it (see the module docstring)."""
    html = _HIDDEN_FROM_MSO.sub("", html)
    html = _STYLE_BLOCK.sub("", html)  # before opening the MSO blocks: their own <style> stays
    html = _MSO_ONLY.sub(lambda m: _OFFICE_XML.sub("", m.group(1)), html)
    html = _ROUNDRECT.sub(_button, html)
    return _STYLE_ATTR.sub(_strip_declarations, html)
