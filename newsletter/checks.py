"""Lint rules over a built issue: what would embarrass the sender once it has gone out.

Data in, data out: the rules read the rendered files (`email.html`, `email.txt`,
`sample.eml`), the `Issue` and the `Config`, and return `Finding`s; nothing here prints,
writes or touches the network (link checking lives in `linkcheck.py`). An *error* is
something a subscriber or a mail provider would notice (a clipped message, a missing
unsubscribe header, an unreadable colour, a link that cannot work); a *warning* is worth
a look but may be intended. `build` records the findings in manifest.json, `check`
prints them, and `send` refuses to start while there are errors unless `--force`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import PurePosixPath
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import lxml.html
from lxml.etree import ParserError

from .config import Colors, Config
from .issue import Issue
from .render import RenderedIssue

__all__ = [
    "Finding",
    "Severity",
    "check_issue",
    "parse_html",
    "check_size",
    "check_line_lengths",
    "check_lang",
    "check_tables",
    "check_images",
    "check_links",
    "check_items",
    "check_subject",
    "check_preheader",
    "check_parity",
    "check_unsubscribe",
    "check_headers",
    "check_contrast",
    "contrast_ratio",
    "url_locations",
    "count",
    "CLIP_BYTES",
    "NEAR_CLIP_BYTES",
]

Severity = Literal["error", "warning"]
CLIP_BYTES = 102 * 1024  # Gmail hides everything past this under "[Message clipped]"
NEAR_CLIP_BYTES = 90 * 1024
MAX_LINE_OCTETS = 998  # RFC 5322 2.1.1, without the CRLF
SUBJECT_MAX = 70
PREHEADER_MIN = 40
AA_CONTRAST = 4.5
GENERIC_ALT = {"image", "photo", "picture", "graphic", "img", "pic", "thumbnail", "banner",
               "image representing news article", "news image", "article image", "placeholder"}
_IMAGE_EXT = re.compile(r"^[\w.-]+\.(jpe?g|png|gif|webp|svg|bmp|avif)$", re.I)
_TEXT_URL = re.compile(r"https?://[^\s<>\"]+")
_INVISIBLE = "\u200b\u200c\u200d\u2007\u034f\u00a0\u00ad\ufeff\u2060"


@dataclass(frozen=True)
class Finding:
    """One problem: which rule, how bad, where to look, what is wrong, what to do."""

    rule: str
    severity: Severity
    where: str
    message: str
    hint: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def count(findings: Iterable[Finding | Mapping[str, Any]], severity: Severity) -> int:
    """How many findings (objects or manifest dicts) have this severity."""
    return sum(1 for f in findings
               if (f.severity if isinstance(f, Finding) else f.get("severity")) == severity)


def _error(rule: str, where: str, message: str, hint: str = "") -> Finding:
    return Finding(rule, "error", where, message, hint)


def _warning(rule: str, where: str, message: str, hint: str = "") -> Finding:
    return Finding(rule, "warning", where, message, hint)


# -- entry point -------------------------------------------------------------------------


def check_issue(rendered: RenderedIssue, files: Mapping[str, bytes], config: Config) -> list[Finding]:
    """Every rule over one built issue; `files` holds email.html, email.txt and sample.eml."""
    html_bytes = files["email.html"]
    html = html_bytes.decode("utf-8", "replace")
    text = files["email.txt"].decode("utf-8", "replace")
    message = files["sample.eml"]
    doc = parse_html(html)
    locate = url_locations(rendered.issue)
    findings = [
        *check_size(len(html_bytes)),
        *check_line_lengths({name: files[name] for name in ("email.html", "email.txt", "sample.eml")}),
        *check_lang(doc),
        *check_tables(doc),
        *check_items(rendered.issue),
        *check_images(doc, locate),
        *check_links(doc, locate),
        *check_subject(_subject(message) or rendered.subject),
        *check_preheader(doc),
        *check_parity(doc, text, config, locate),
        *check_unsubscribe(doc, text, config),
        *check_headers(message),
        *check_contrast(config.colors, where=config.path.name),
    ]
    return findings


def parse_html(html: str) -> Any:
    """The document as an lxml tree (elements know their `sourceline`)."""
    try:
        return lxml.html.document_fromstring(html)
    except (ParserError, ValueError):
        return lxml.html.document_fromstring("<html><body></body></html>")


def url_locations(issue: Issue | None) -> Callable[[str, str], str]:
    """Map a URL found in the email back to the item file and line that put it there."""
    places: dict[str, str] = {}
    for item in issue.items if issue else ():
        urls = [link.url for link in item.links] + [s.url for s in item.see_also]
        if item.image:
            urls.append(item.image.src)
        for url in urls:
            places.setdefault(url.strip(), item.where)

    def locate(url: str, fallback: str) -> str:
        return places.get(url.strip(), fallback)

    return locate


def _line(element: Any, name: str = "email.html") -> str:
    line = getattr(element, "sourceline", None)
    return f"{name}:{line}" if line else name


def _text_of(element: Any) -> str:
    text = " ".join(element.text_content().split())
    if not text:  # an image link reads as its alt text
        text = " ".join(" ".join(img.get("alt", "") for img in element.iter("img")).split())
    return text


# -- size and lines ----------------------------------------------------------------------


def check_size(html_bytes: int) -> list[Finding]:
    kb = html_bytes / 1024
    if html_bytes > CLIP_BYTES:
        return [_error("html-size", "email.html", f"the HTML is {kb:.0f} KB; Gmail clips messages over 102 KB, "
                       "hiding the end of the issue and the unsubscribe link",
                       "cut items, shorten summaries or split the issue")]
    if html_bytes > NEAR_CLIP_BYTES:
        return [_warning("html-size", "email.html", f"the HTML is {kb:.0f} KB, close to Gmail's 102 KB clip",
                         "leave room: a few more items will get the issue clipped")]
    return []


def check_line_lengths(files: Mapping[str, bytes]) -> list[Finding]:
    """RFC 5322 caps lines at 998 octets; servers break longer lines at random places."""
    findings = []
    for name, data in files.items():
        for number, line in enumerate(data.split(b"\n"), start=1):
            size = len(line.rstrip(b"\r"))
            if size > MAX_LINE_OCTETS:
                findings.append(_error("long-line", f"{name}:{number}",
                                       f"a line of {size} octets (the limit is 998)",
                                       "break the template line, or shorten the text or URL on it"))
    return findings


# -- HTML structure ------------------------------------------------------------------------


def check_lang(doc: Any) -> list[Finding]:
    if (doc.get("lang") or "").strip():
        return []
    return [_error("html-lang", _line(doc), "<html> has no lang attribute; screen readers guess the "
                   "language and mispronounce the issue", 'set `language:` in the config and keep '
                   '<html lang="{{ lang }}"> in the template')]


def check_tables(doc: Any) -> list[Finding]:
    """Layout tables need role="presentation", or screen readers announce rows and columns."""
    findings = []
    for table in doc.iter("table"):
        is_data = table.find(".//th") is not None or table.find("caption") is not None
        if not is_data and (table.get("role") or "").strip().lower() not in ("presentation", "none"):
            findings.append(_warning("layout-table", _line(table), "a layout table without "
                                     'role="presentation" (screen readers read it out as a data table)',
                                     'add role="presentation" to the <table> in the template'))
    return findings


def check_images(doc: Any, locate: Callable[[str, str], str] = lambda u, w: w) -> list[Finding]:
    findings = []
    for img in doc.iter("img"):
        src = (img.get("src") or "").strip()
        where = locate(src, _line(img))
        alt = img.get("alt")
        findings += _alt_findings(alt, src, where)
        scheme = urlsplit(src).scheme.lower()
        if scheme == "http":
            findings.append(_warning("image-https", where, f"image {src} is not served over https; "
                                     "some mail clients block it or warn", "use the https:// address"))
        elif scheme != "https":
            findings.append(_error("image-src", where, f"image source {src or '(empty)'!r} will not load "
                                   "in mail clients", "use an absolute https:// address"))
    return findings


def _alt_findings(alt: str | None, src: str, where: str) -> list[Finding]:
    if alt is None:
        return [_error("image-alt", where, f"image {src} has no alt text",
                       "describe what the image shows in `image.alt`")]
    words = " ".join(alt.split()).strip(" .").casefold()
    name = PurePosixPath(unquote(urlsplit(src).path)).name.casefold()
    if not words:
        return [_warning("image-alt", where, f"image {src} has empty alt text (screen readers skip it)",
                         "fine for decoration; otherwise describe what the image shows")]
    if words in GENERIC_ALT or words in {name, name.rpartition(".")[0]} or _IMAGE_EXT.match(words):
        return [_warning("image-alt", where, f"image alt text {alt!r} says nothing about the image",
                         "describe what it shows, e.g. 'A teenager looking at a phone'")]
    return []


def check_links(doc: Any, locate: Callable[[str, str], str] = lambda u, w: w) -> list[Finding]:
    """Every <a href>: well-formed, https, anchors that exist, one text per URL."""
    findings = []
    ids = {el.get("id") for el in doc.iter() if isinstance(el.tag, str) and el.get("id")}
    ids |= {el.get("name") for el in doc.iter("a") if el.get("name")}
    texts: dict[str, dict[str, str]] = {}
    for a in doc.iter("a"):
        href = a.get("href")
        if href is None:
            continue
        href = href.strip()
        where = locate(href, _line(a))
        problem = _link_problem(href, ids)
        if problem:
            findings.append(problem(where))
            continue
        if href.startswith(("http://", "https://")):
            text = _text_of(a)
            texts.setdefault(href, {}).setdefault(text.casefold(), text)
    for href, seen in texts.items():
        if len(seen) > 1:
            shown = ", ".join(repr(t) for t in sorted(seen.values()))
            findings.append(_warning("link-text", locate(href, "email.html"),
                                     f"{href} is linked with different texts: {shown}",
                                     "use one text per destination so readers know where a link goes"))
    return findings


def _link_problem(href: str, ids: set[str]) -> Callable[[str], Finding] | None:
    if not href:
        return lambda w: _error("link-malformed", w, "a link with an empty href", "give the link a URL")
    if href.startswith("#"):
        if href[1:] in ids:
            return None
        return lambda w: _error("link-anchor", w, f"link to {href}, but nothing in the email has that id",
                                "point it at an existing section anchor")
    if any(c.isspace() for c in href):
        return lambda w: _error("link-malformed", w, f"link {href!r} contains spaces", "encode them as %20")
    parts = urlsplit(href)
    scheme = parts.scheme.lower()
    if scheme == "https":
        if "." not in (parts.hostname or "") and parts.hostname != "localhost":
            return lambda w: _error("link-malformed", w, f"link {href!r} has no host name", "check the URL")
        return None
    if scheme == "http":
        if not parts.hostname:
            return lambda w: _error("link-malformed", w, f"link {href!r} has no host name", "check the URL")
        return lambda w: _warning("link-https", w, f"{href} is not https",
                                  "use the https:// address if the site has one")
    if scheme == "mailto":
        if "@" in parts.path:
            return None
        return lambda w: _error("link-malformed", w, f"mailto link {href!r} has no address", "add the address")
    if scheme == "tel":
        return None
    if not scheme:
        return lambda w: _error("link-malformed", w, f"relative link {href!r} goes nowhere in an email",
                                "use an absolute https:// URL")
    return lambda w: _error("link-scheme", w, f"{scheme}: link {href[:60]!r} will not work (or looks like "
                            "an attack) in an email", "link to an https:// page instead")


# -- the issue's content ---------------------------------------------------------------------


def check_items(issue: Issue | None) -> list[Finding]:
    findings: list[Finding] = []
    for section in issue.sections if issue else ():
        if not section.items:
            findings.append(_error("empty-section", f"theme {section.theme}",
                                   f"the {section.theme!r} section has no items",
                                   "add an item or leave the theme out of this issue"))
        for item in section.items:
            if not any(link.url.strip() for link in item.links):
                findings.append(_error("item-link", item.where, f"{item.title!r} has no link",
                                       "add a `links:` entry so readers can follow it up"))
    return findings


def check_subject(subject: str) -> list[Finding]:
    subject = " ".join(subject.split())
    if not subject:
        return [_error("subject", "subject", "the subject is empty", "set `subject:` in the config")]
    findings = []
    if len(subject) > SUBJECT_MAX:
        findings.append(_warning("subject", "subject", f"the subject is {len(subject)} characters; inboxes "
                                 f"cut it near {SUBJECT_MAX}", "put the important words first or shorten it"))
    letters = [c for c in subject if c.isalpha()]
    if len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) > 0.6:
        findings.append(_warning("subject", "subject", f"the subject is mostly capitals: {subject!r}",
                                 "write it in sentence case; capitals read as shouting and as spam"))
    if re.search(r"[!?]{2,}|!\s*!", subject):
        findings.append(_warning("subject", "subject", f"the subject has repeated !/?: {subject!r}",
                                 "one mark at most; spam filters score these"))
    return findings


def check_preheader(doc: Any) -> list[Finding]:
    """The hidden first text in <body> is what inboxes show next to the subject."""
    body = doc.find("body")
    hidden = None
    for el in body.iter() if body is not None else ():
        style = re.sub(r"\s+", "", (el.get("style") or "").lower()) if isinstance(el.tag, str) else ""
        if "display:none" in style:
            hidden = el
            break
    if hidden is None:
        return [_warning("preheader", "email.html", "no preheader: inboxes will show the first "
                         "visible text instead", "keep the hidden preheader <div> in the template")]
    text = " ".join(hidden.text_content().translate({ord(c): " " for c in _INVISIBLE}).split())
    if len(text) < PREHEADER_MIN:
        return [_warning("preheader", _line(hidden), f"the preheader is only {len(text)} characters "
                         f"({text!r})", f"write at least {PREHEADER_MIN} characters in `preheader:`")]
    return []


def _text_urls(text: str) -> list[str]:
    """URLs written out in plain text, without the sentence punctuation that follows them."""
    urls = []
    for url in _TEXT_URL.findall(text):
        while url and url[-1] in ".,;:!?'\"]}" or (url.endswith(")") and url.count("(") < url.count(")")):
            url = url[:-1]
        urls.append(url)
    return urls


def _personal(url: str, config: Config) -> bool:
    """Per-recipient links (unsubscribe, preferences) differ by token; checked elsewhere."""
    bases = [config.unsubscribe_url, config.preferences_url or ""]
    return any(base and url.startswith(base) for base in bases)


def check_parity(doc: Any, text: str, config: Config,
                 locate: Callable[[str, str], str] = lambda u, w: w) -> list[Finding]:
    """The text part must carry every web link the HTML has, and no others."""
    html_urls = [(a.get("href") or "").strip() for a in doc.iter("a")]
    in_html = {u for u in html_urls if u.startswith(("http://", "https://")) and not _personal(u, config)}
    in_text = {u for u in _text_urls(text) if not _personal(u, config)}
    findings = [_error("text-parity", locate(url, "email.txt"), f"the text part lacks {url}, which the HTML links",
                       "write every link out in email.txt") for url in sorted(in_html - in_text)]
    findings += [_error("text-parity", locate(url, "email.html"), f"the HTML lacks {url}, which the text part has",
                        "link it in email.html too") for url in sorted(in_text - in_html)]
    return findings


def check_unsubscribe(doc: Any, text: str, config: Config) -> list[Finding]:
    """A visible web link out in both parts (the law and mailbox providers require one)."""
    findings = []

    def way_out(url: str, label: str = "") -> bool:
        if not url.startswith(("https://", "http://")):
            return False  # a mailto alone is not enough: many readers have no mail client set up
        base = config.unsubscribe_url
        return bool(base and url.startswith(base)) or "unsubscribe" in f"{url} {label}".lower()

    if not any(way_out((a.get("href") or "").strip(), _text_of(a)) for a in doc.iter("a")):
        findings.append(_error("unsubscribe-link", "email.html", "the HTML has no unsubscribe link",
                               'keep <a href="{{ unsubscribe_url }}">Unsubscribe</a> in the footer'))
    if not any(way_out(u) for u in _text_urls(text)):
        findings.append(_error("unsubscribe-link", "email.txt", "the text part has no unsubscribe link",
                               "keep `Unsubscribe: {{ unsubscribe_url }}` in email.txt"))
    return findings


# -- the message ------------------------------------------------------------------------------


def _headers(message: bytes) -> Any:
    return BytesHeaderParser(policy=compat32).parsebytes(message)


def _subject(message: bytes) -> str:
    raw = _headers(message).get("Subject")
    if raw is None:
        return ""
    try:
        return str(make_header(decode_header(str(raw))))
    except (UnicodeError, LookupError, ValueError):
        return str(raw)


def check_headers(message: bytes) -> list[Finding]:
    """The headers a subscriber's provider looks for: one-click unsubscribe (RFC 8058) and the rest."""
    headers = _headers(message)
    findings = []
    for name in ("From", "To", "Date", "Message-ID", "List-Id"):
        if not str(headers.get(name) or "").strip():
            findings.append(_error("message-headers", f"sample.eml: {name}", f"the message has no {name} header",
                                   "keep compose.py's headers; providers distrust messages without it"))
    value = " ".join(str(headers.get("List-Unsubscribe") or "").split())
    targets = re.findall(r"<([^>]*)>", value)
    if not value:
        findings.append(_error("list-unsubscribe", "sample.eml: List-Unsubscribe", "no List-Unsubscribe header: "
                               "Gmail and Yahoo require one from bulk senders",
                               "configure `unsubscribe: {url: https://..., mailto: ...}`"))
    else:
        if not any(t.startswith("https://") for t in targets):
            findings.append(_error("list-unsubscribe", "sample.eml: List-Unsubscribe",
                                   "List-Unsubscribe has no https:// address, so one-click unsubscribe cannot work",
                                   "set `unsubscribe.url` to an https:// address"))
        if not any(t.startswith("mailto:") for t in targets):
            findings.append(_error("list-unsubscribe", "sample.eml: List-Unsubscribe",
                                   "List-Unsubscribe has no mailto: address", "set `unsubscribe.mailto`"))
    post = " ".join(str(headers.get("List-Unsubscribe-Post") or "").split())
    if post != "List-Unsubscribe=One-Click":
        findings.append(_error("list-unsubscribe", "sample.eml: List-Unsubscribe-Post",
                               "no `List-Unsubscribe-Post: List-Unsubscribe=One-Click` header (RFC 8058)",
                               "keep compose.py's List-Unsubscribe-Post header"))
    return findings


# -- colours ----------------------------------------------------------------------------------


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
            findings.append(_error("contrast", f"{where}: colors.{fg}",
                                   f"colors.{fg} {getattr(colors, fg)} on colors.background {colors.background} "
                                   f"has contrast {ratio:.1f}:1; {role} at least 4.5:1 (WCAG AA)",
                                   f"darken colors.{fg} or lighten colors.background"))
    return findings
