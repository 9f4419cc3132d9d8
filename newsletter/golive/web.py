"""The subscriber-facing addresses: https, and (online) answered by the subscriber site.

The online probe is what a mail client's one-click button does (RFC 8058), with a token
for `PROBE_ADDRESS`, signed with this folder's secret: the site answers that one with a
marker header and unsubscribes nobody. So a passing probe also proves the public site
holds the same token secret as `send`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from newsletter.config import Config
from newsletter.golive.findings import Diagnosis, error, ok
from newsletter.tokens import PROBE_ADDRESS, PROBE_HEADER, make_token, token_keys

__all__ = ["check_addresses", "probe_unsubscribe"]


def check_addresses(config: Config) -> list[Diagnosis]:
    """Unsubscribe and preferences pages on https (mail clients hide one-click links that are not)."""
    found = []
    for key, url in (("unsubscribe.url", config.unsubscribe_url), ("preferences_url", config.preferences_url)):
        if url is None:
            continue
        if urlsplit(url).scheme == "https":
            found.append(ok("unsubscribe", f"{key} is https: {url}"))
        else:
            found.append(error("unsubscribe", f"{key} is not https: {url}",
                               "Gmail and Yahoo want one-click unsubscribe over https; serve it behind TLS"))
    return found


def probe_unsubscribe(config: Config, *, timeout: float = 10.0) -> list[Diagnosis]:
    """GET the unsubscribe page, then a one-click POST with the probe token; nobody is unsubscribed."""
    url = config.unsubscribe_url
    token = make_token(token_keys(config)[0], config.list_id, PROBE_ADDRESS)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            page = client.get(url, params={"t": token})
            click = client.post(url, params={"t": token}, data={"List-Unsubscribe": "One-Click"})
    except httpx.HTTPError as exc:
        return [error("unsubscribe", f"{url} does not answer: {exc}",
                      "start `newsletter unsubscribe-server` behind your web server, or fix unsubscribe.url")]
    found = []
    if page.status_code == 200:
        found.append(ok("unsubscribe", f"GET {url} answers 200"))
    else:
        found.append(error("unsubscribe", f"GET {url} answers {page.status_code}",
                           "the page behind unsubscribe.url must be `newsletter unsubscribe-server`"))
    if click.status_code == 200 and click.headers.get(PROBE_HEADER) == "ok":
        found.append(ok("unsubscribe", "one-click POST accepted the probe token (same token secret); "
                                       "nobody was unsubscribed"))
    elif click.status_code == 200:
        found.append(error("unsubscribe", "one-click POST answered 200 but did not recognise the probe",
                           "update the server to this version of newsletter"))
    else:
        found.append(error("unsubscribe", f"one-click POST refused the probe token ({click.status_code})",
                           "the server must use the same token secret as `send`: copy .newsletter-secret "
                           "or set the same NEWSLETTER_TOKEN_SECRET there"))
    return found
