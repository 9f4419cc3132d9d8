"""Rules over the links in both parts: well-formed, https, the same in text and HTML, a way out.

A link that cannot work in a mail client (relative, empty, `javascript:`, an anchor to
nowhere) is an error, because a subscriber clicks it and nothing happens; the text part
must carry every link the HTML has, because some readers only ever see the text; and
each part needs a visible unsubscribe link. Whether the links *answer* is a network
question and lives in `issue/probe.py`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from newsletter.config import Config, route_path
from newsletter.issue.checks.document import line_of, message_headers, text_of
from newsletter.issue.checks.findings import Finding, error, warning
from newsletter.issue.counted import is_canary
from newsletter.tokens import is_token_shaped

__all__ = ["check_links", "check_parity", "check_unsubscribe", "check_unsubscribe_route"]

_TEXT_URL = re.compile(r"https?://[^\s<>\"]+")


def check_links(doc: Any, locate: Callable[..., str] = lambda u, w, field="url": w) -> list[Finding]:
    """Every <a href>: well-formed, https, anchors that exist, one text per URL (per
    language: an email stacking languages links a URL once in each language's words)."""
    findings = []
    ids = {el.get("id") for el in doc.iter() if isinstance(el.tag, str) and el.get("id")}
    ids |= {el.get("name") for el in doc.iter("a") if el.get("name")}
    texts: dict[tuple[str, str], dict[str, str]] = {}
    for a in doc.iter("a"):
        href = a.get("href")
        if href is None:
            continue
        href = href.strip()
        where = locate(href, line_of(a))
        problem = _link_problem(href, ids)
        if problem:
            findings.append(problem(where))
            continue
        if href.startswith(("http://", "https://")):
            text = text_of(a)
            texts.setdefault((_language_of(a), href), {}).setdefault(text.casefold(), text)
    for (_, href), seen in texts.items():
        if len(seen) > 1:
            shown = ", ".join(repr(t) for t in sorted(seen.values()))
            findings.append(warning("link-text", locate(href, "email.html"),
                                    f"{href} is linked with different texts: {shown}",
                                    "use one text per destination so readers know where a link goes"))
    return findings


def _language_of(element: Any) -> str:
    """The `lang` an element is written in: its own or its nearest ancestor's."""
    for el in (element, *element.iterancestors()):
        if el.get("lang"):
            return str(el.get("lang"))
    return ""


def _link_problem(href: str, ids: set[str]) -> Callable[[str], Finding] | None:
    if not href:
        return lambda w: error("link-malformed", w, "a link with an empty href", "give the link a URL")
    if href.startswith("#"):
        if href[1:] in ids:
            return None
        return lambda w: error("link-anchor", w, f"link to {href}, but nothing in the email has that id",
                               "point it at an existing section anchor")
    if any(c.isspace() for c in href):
        return lambda w: error("link-malformed", w, f"link {href!r} contains spaces", "encode them as %20")
    parts = urlsplit(href)
    scheme = parts.scheme.lower()
    if scheme == "https":
        if "." not in (parts.hostname or "") and parts.hostname != "localhost":
            return lambda w: error("link-malformed", w, f"link {href!r} has no host name", "check the URL")
        return None
    if scheme == "http":
        if not parts.hostname:
            return lambda w: error("link-malformed", w, f"link {href!r} has no host name", "check the URL")
        return lambda w: warning("link-https", w, f"{href} is not https",
                                 "use the https:// address if the site has one")
    if scheme == "mailto":
        if "@" in parts.path:
            return None
        return lambda w: error("link-malformed", w, f"mailto link {href!r} has no address", "add the address")
    if scheme == "tel":
        return None
    if not scheme:
        return lambda w: error("link-malformed", w, f"relative link {href!r} goes nowhere in an email",
                               "use an absolute https:// URL")
    return lambda w: error("link-scheme", w, f"{scheme}: link {href[:60]!r} will not work (or looks like "
                           "an attack) in an email", "link to an https:// page instead")


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
                 locate: Callable[..., str] = lambda u, w, field="url": w) -> list[Finding]:
    """The text part must carry every web link the HTML has, and no others."""
    html_urls = [(a.get("href") or "").strip() for a in doc.iter("a")]
    in_html = {u for u in html_urls if u.startswith(("http://", "https://")) and not _personal(u, config)
               and not is_canary(u, config)}
    in_text = {u for u in _text_urls(text) if not _personal(u, config)}
    findings = [error("text-parity", locate(url, "email.txt"), f"the text part lacks {url}, which the HTML links",
                      "write every link out in email.txt") for url in sorted(in_html - in_text)]
    findings += [error("text-parity", locate(url, "email.html"), f"the HTML lacks {url}, which the text part has",
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

    if not any(way_out((a.get("href") or "").strip(), text_of(a)) for a in doc.iter("a")):
        findings.append(error("unsubscribe-link", "email.html", "the HTML has no unsubscribe link",
                              'keep <a href="{{ unsubscribe_url }}">Unsubscribe</a> in the footer'))
    if not any(way_out(u) for u in _text_urls(text)):
        findings.append(error("unsubscribe-link", "email.txt", "the text part has no unsubscribe link",
                              "keep `Unsubscribe: {{ unsubscribe_url }}` in email.txt"))
    return findings


def check_unsubscribe_route(doc: Any, text: str, message: bytes, config: Config) -> list[Finding]:
    """Every tokened link (List-Unsubscribe, HTML, text) must land on a route the site answers.

    `newsletter serve` answers on the exact path of `unsubscribe.url` and `preferences_url`;
    a link with another path (a trailing slash, a template that edits the URL) gets a
    redirect or a 404, and a one-click POST through a redirect suppresses nobody.
    """
    routes = {route_path(u): urlsplit(u).netloc for u in (config.unsubscribe_url, config.preferences_url) if u}
    header = " ".join(str(message_headers(message).get("List-Unsubscribe") or "").split())
    links = [("sample.eml: List-Unsubscribe", u) for u in re.findall(r"<(https?://[^>]*)>", header)]
    links += [("email.html", (a.get("href") or "").strip()) for a in doc.iter("a")]
    links += [("email.txt", u) for u in _text_urls(text)]
    findings = []
    for where, url in links:
        parts = urlsplit(url)
        personal = where.startswith("sample.eml") or any(
            key == "t" and is_token_shaped(value) for key, value in parse_qsl(parts.query))
        if not personal or routes.get(parts.path) == parts.netloc:
            continue
        findings.append(error("unsubscribe-route", where,
                              f"the personal link {parts.scheme}://{parts.netloc}{parts.path} is not a page the "
                              f"subscriber site answers ({', '.join(sorted(routes))})",
                              "write {{ unsubscribe_url }} and {{ preferences_url }} in the templates as they are"))
    return findings
