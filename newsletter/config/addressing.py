"""The config's values that become addresses: the sender, the List-Id, the mailto and the
subscriber site's URLs, each checked as mail clients and the site will use it.

Moved out of loader.py unchanged; the loader calls these while it reads the top-level keys.
"""

from __future__ import annotations

import re
from email.utils import parseaddr, quote
from urllib.parse import urlsplit

from newsletter.config.reader import ConfigReader
from newsletter.config.urls import normalise_site_url, route_path
from newsletter.yamldoc import LineMap

__all__ = ["check_preferences_url", "default_list_id", "is_web_address", "mail_address", "mailto_address",
           "read_list_id", "site_paths", "site_url"]


def site_paths(unsubscribe_url: str, preferences_url: str | None) -> dict[str, str]:
    """The paths the subscriber site already answers on, and the key that sets each."""
    paths = {"/healthz": "the health check (/healthz)", "/r": "counted links (/r/...)"}
    for key, url in (("unsubscribe.url", unsubscribe_url), ("preferences_url", preferences_url)):
        if url:
            paths[urlsplit(url).path.rstrip("/") or "/"] = key
    return paths


_LIST_ID_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)+\Z")


def mail_address(r: ConfigReader, data: LineMap, key: str, value: str) -> str:
    """`Name <addr>` with an internationalised domain written in punycode (`bücher.de` ->
    `xn--bcher-kva.de`), which every mail server takes; an address mail cannot carry is an
    error at its line. The display name may be any text: the message encodes it."""
    if not value:
        return value
    if any(c in value for c in "\r\n"):
        r.error(data, key, "must be one line")
        return value
    display, address = parseaddr(value)
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        r.error(data, key, f"not an email address: {value!r}", 'write it as "Name <addr@example.org>"')
        return value
    if not local.isascii():
        r.error(data, key, f"the part before @ must be ASCII: {address!r}",
                "most mail servers refuse other letters there; use an ASCII address")
        return value
    try:
        ascii_domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        r.error(data, key, f"not a valid domain name: {domain!r}", "check the part after @")
        return value
    if ascii_domain == domain:
        return value
    address = f"{local}@{ascii_domain}"
    return f'"{quote(display)}" <{address}>' if display else address


def read_list_id(r: ConfigReader, data: LineMap) -> str | None:
    """RFC 2919: the List-Id is ASCII letters, digits and dots, like a domain name."""
    value = r.text(data, "list_id")
    if value and not _LIST_ID_RE.match(value):
        r.error(data, "list_id", f"not a list id: {value!r}",
                "use ASCII letters, digits, dots and dashes, e.g. digest.example.org")
        return None
    return value


def check_preferences_url(r: ConfigReader, data: LineMap, url: str, unsubscribe_url: str) -> str:
    """The "Manage your topics" page: a web address the unsubscribe server answers on too."""
    url = site_url(r, data, "preferences_url", url,
                    "e.g. https://example.org/unsubscribe/preferences (served by `newsletter serve`)")
    if unsubscribe_url and route_path(url) == route_path(unsubscribe_url):
        r.error(data, "preferences_url", "must have another path than unsubscribe.url",
                "the same server answers both, e.g. https://example.org/unsubscribe/preferences")
    return url


def site_url(r: ConfigReader, data: LineMap, key: str, url: str, example: str) -> str:
    """A subscriber-site address spelled as the server routes it (urls.py), or an error at its line."""
    if not url:
        return url
    if not is_web_address(url):
        r.error(data, key, f"not a web address: {url!r}", f"use https://..., {example}")
        return url
    normalised, problem = normalise_site_url(url)
    if problem:
        r.error(data, key, problem, example)
    return normalised


_PLAIN_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\\\"?&=%]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def mailto_address(r: ConfigReader, data: LineMap, address: str) -> str:
    """`unsubscribe.mailto` goes into the List-Unsubscribe header: one plain address, nothing else."""
    if address and not _PLAIN_ADDRESS.fullmatch(address):
        r.error(data, "mailto", f"not a plain email address: {address!r}",
                "write only the address, e.g. unsubscribe@example.org (no name, ?subject= or line break)")
    return address


def is_web_address(url: str) -> bool:
    """An http(s) address fit to paste into a link as is: one line, no spaces, quotes or angle
    brackets (emails put it in HTML attributes and text lines unchanged)."""
    return url.startswith(("https://", "http://")) and not any(
        c.isspace() or c in '<>"' or ord(c) < 32 for c in url)


def default_list_id(name: str, sender: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "newsletter"
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"{slug}.{domain}"
