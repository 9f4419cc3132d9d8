"""Counted links (`tracking: {clicks: true}`): an item's URL as the subscriber site's `/r/` link.

With tracking on, `render` writes each item's links (its button, links and "See also")
as `<site>/r/<issue>/<link>`, where `<link>` carries the URL and a short MAC
(`tokens.make_click_link`). The link is the same for every reader of that
version: no subscriber id, no token, no pixel. The site redirects to the signed URL and
adds one to that link's count. One hidden canary link per message is there for machines
only (a link scanner that follows it has the rest of its burst discarded).

| tracking.clicks | email HTML and text          | archive pages | canary |
|-----------------|------------------------------|---------------|--------|
| off (default)   | the item's own URLs          | own URLs      | none   |
| on              | `/r/` links, in both parts   | own URLs      | HTML only |

The site's origin is `unsubscribe.url`'s (the same `newsletter serve` answers both).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from urllib.parse import urlsplit

from newsletter.config import Config
from newsletter.tokens import CANARY, make_click_link, token_keys

__all__ = ["ROUTE_PREFIX", "canary_url", "counted_parts", "counted_target", "is_canary", "is_counted",
           "link_counter", "site_origin"]

ROUTE_PREFIX = "/r/"


def site_origin(config: Config) -> str:
    """`https://host[:port]` of the subscriber site (unsubscribe.url's)."""
    parts = urlsplit(config.unsubscribe_url)
    return f"{parts.scheme}://{parts.netloc}"


def _counted(config: Config, secret: bytes, slug: str, url: str) -> str:
    return f"{site_origin(config)}{ROUTE_PREFIX}{slug}/{make_click_link(secret, config.list_id, slug, url)}"


def link_counter(config: Config, slug: str) -> Callable[[str], str] | None:
    """URL -> its counted link for issue `slug`, or None when tracking is off.

    Only web links are counted (a mailto: stays as it is). Signed with the current token
    secret, so the built email, the send and the site agree without sharing anything else.
    """
    if not config.count_clicks:
        return None
    secret = token_keys(config)[0]

    def counted(url: str) -> str:
        return _counted(config, secret, slug, url) if url.startswith(("https://", "http://")) else url

    return counted


def canary_url(config: Config, slug: str) -> str | None:
    """The hidden link only machines follow, or None when tracking is off."""
    if not config.count_clicks:
        return None
    return _counted(config, token_keys(config)[0], slug, CANARY)


def counted_parts(url: str, config: Config) -> tuple[str, str] | None:
    """(issue slug, link) of a counted link on this config's site, or None for any other URL."""
    prefix = site_origin(config) + ROUTE_PREFIX
    if not url.startswith(prefix):
        return None
    slug, _, link = url[len(prefix):].partition("/")
    return (slug, link) if slug and link and "/" not in link else None


def is_counted(url: str, config: Config) -> bool:
    return counted_parts(url, config) is not None


def is_canary(url: str, config: Config) -> bool:
    """The hidden canary link (HTML only, so the text-part parity check leaves it out)."""
    parts = counted_parts(url, config)
    if parts is None:
        return False
    return parts[1].partition(".")[0] == _CANARY_PAYLOAD  # the MAC is the site's business


_CANARY_PAYLOAD = base64.urlsafe_b64encode(CANARY.encode()).rstrip(b"=").decode()


def counted_target(url: str, config: Config) -> str | None:
    """The URL a counted link carries (read, not verified: the site's route verifies), or None."""
    parts = counted_parts(url, config)
    if parts is None:
        return None
    payload = parts[1].partition(".")[0]
    try:
        target = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return target if target.startswith(("https://", "http://")) else None
