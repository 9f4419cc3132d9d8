"""The subscriber-facing addresses: https, and (online) answered by the subscriber site.

The online probe is what a mail client's one-click button does (RFC 8058), with a token
for `PROBE_ADDRESS`, signed with this folder's secret: the site answers that one with a
marker header and unsubscribes nobody. So a passing probe also proves the public site
holds the same token secret as `send`. With `tracking.clicks` on, `probe_counted_links`
sends a HEAD (never counted) for a counted link signed the same way: the site must
answer `/r/` with a redirect to the URL the link carries.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from newsletter.addresses import example_domain_in
from newsletter.config import Config
from newsletter.golive.findings import Diagnosis, error, ok
from newsletter.tokens import PROBE_ADDRESS, PROBE_HEADER, make_click_link, make_token, token_keys

__all__ = ["check_addresses", "check_placeholders", "probe_counted_links", "probe_unsubscribe"]

PROBE_SLUG = "doctor-probe"  # no issue has this slug, so the probe link is never one a reader has


def check_placeholders(config: Config) -> list[Diagnosis]:
    """Settings still on a domain reserved for examples (example.org, *.test): a sender,
    an unsubscribe page or a contact nobody can reach. Not ready to go live."""
    settings = (("from", config.sender), ("reply_to", config.reply_to), ("unsubscribe.url", config.unsubscribe_url),
                ("unsubscribe.mailto", config.unsubscribe_mailto), ("preferences_url", config.preferences_url),
                ("archive_url", config.archive_url),
                ("organisation.contact", config.organisation.contact if config.organisation else None))
    found = []
    for key, value in settings:
        domain = example_domain_in(value) if value else None
        if domain:
            found.append(error("placeholder", f"{key} uses {domain}, a domain reserved for examples: {value}",
                               "put your own domain here"))
    return found


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
                      "start `newsletter serve` behind your web server, or fix unsubscribe.url")]
    found = []
    if page.status_code == 200:
        found.append(ok("unsubscribe", f"GET {url} answers 200"))
    else:
        found.append(error("unsubscribe", f"GET {url} answers {page.status_code}",
                           "the page behind unsubscribe.url must be `newsletter serve`"))
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


def probe_counted_links(config: Config, *, timeout: float = 10.0) -> list[Diagnosis]:
    """HEAD a signed `/r/` link on the site: a redirect to its URL means counted links work."""
    origin = urlsplit(config.unsubscribe_url)
    target = config.unsubscribe_url
    url = (f"{origin.scheme}://{origin.netloc}/r/{PROBE_SLUG}/"
           f"{make_click_link(token_keys(config)[0], config.list_id, PROBE_SLUG, target)}")
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            answer = client.head(url)
    except httpx.HTTPError as exc:
        return [error("tracking", f"the site does not answer counted links (/r/): {exc}",
                      "serve `newsletter serve` at unsubscribe.url's host; counted links go there")]
    if answer.status_code in (302, 303) and answer.headers.get("location") == target:
        return [ok("tracking", "the site answers counted links (/r/) with a redirect (same token secret); "
                               "a HEAD is never counted")]
    return [error("tracking", f"the site answers a counted link (/r/) with {answer.status_code}, not a redirect",
                  "run `newsletter serve` from this version at unsubscribe.url's host, with the same token "
                  "secret as `build` and `send`")]
