"""Checking the issue's links over HTTP for `newsletter check --links`.

Each link gets a HEAD request (cheap), then a GET when HEAD is refused (405/501), fails
or errors, because many servers answer HEAD badly. Redirects are followed and reported,
so the officer can link to the final address. Requests run concurrently with a bound
and a total time limit per request. Answers are cached in the state file for a day
(`journal.link_checks`), so re-running `check --links` while editing costs nothing;
network failures and timeouts are not cached, so they are retried next time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from newsletter.config import Config
from newsletter.issue.checks.document import parse_html
from newsletter.issue.checks.findings import Finding
from newsletter.issue.counted import counted_target, is_counted
from newsletter.journal import CachedLink, Db, get_link_checks, put_link_checks

__all__ = ["LinkResult", "web_links", "fetch_links", "probe_links", "link_findings", "offline_reason",
           "USER_AGENT"]

USER_AGENT = "Mozilla/5.0 (compatible; newsletter-linkcheck/1.0; checking links before a mailing)"
CACHE_FOR = dt.timedelta(days=1)
_BLOCKING = {401, 403, 429}  # often bot protection rather than a broken page
# How getaddrinfo says "no such name" on Linux, macOS and Windows.
_NO_NAME = ("name or service not known", "temporary failure in name resolution", "nodename nor servname",
            "no address associated", "getaddrinfo failed", "name resolution")


@dataclass(frozen=True)
class LinkResult:
    """What one URL answered: a status (after redirects) or an error, and the hops taken."""

    url: str
    status: int | None = None
    final_url: str = ""
    redirects: tuple[str, ...] = ()  # each hop as "301 https://from/..."
    error: str = ""
    method: str = "HEAD"
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400


def web_links(html: str, config: Config | None = None) -> list[str]:
    """The http(s) links and image sources in the email, once each, in order.

    Per-recipient links (unsubscribe, preferences) carry a sample token that would not
    verify, so they are left out; `check` tests that they are present instead. A counted
    link stands for the item URL it carries (the canary for nothing): that is what is probed.
    """
    personal = [u for u in (config.unsubscribe_url, config.preferences_url) if u] if config else []
    doc = parse_html(html)
    found: dict[str, None] = {}
    for element in doc.iter("a", "img"):
        url = (element.get("href") if element.tag == "a" else element.get("src")) or ""
        url = url.strip()
        if config is not None and is_counted(url, config):
            url = counted_target(url, config) or ""
        if url.startswith(("http://", "https://")) and not any(url.startswith(p) for p in personal):
            found.setdefault(url, None)
    return list(found)


async def _attempt(client: httpx.AsyncClient, method: str, url: str, timeout: float) -> LinkResult:
    try:
        async with asyncio.timeout(timeout):
            async with client.stream(method, url) as response:  # the body is never read
                hops = tuple(f"{r.status_code} {r.url}" for r in response.history)
                return LinkResult(url, response.status_code, str(response.url), hops, method=method)
    except (TimeoutError, httpx.TimeoutException):
        return LinkResult(url, error=f"no answer within {timeout:g} s", method=method)
    except httpx.TooManyRedirects:
        return LinkResult(url, error="too many redirects (a redirect loop?)", method=method)
    except httpx.ConnectError as exc:
        return LinkResult(url, error=f"cannot connect ({exc or 'connection failed'})", method=method)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        return LinkResult(url, error=f"{type(exc).__name__}: {exc}", method=method)


async def _check_one(client: httpx.AsyncClient, url: str, limit: asyncio.Semaphore, timeout: float) -> LinkResult:
    async with limit:
        result = await _attempt(client, "HEAD", url, timeout)
        if result.status is None or result.status in (405, 501) or result.status >= 400:
            result = await _attempt(client, "GET", url, timeout)
        return result


async def fetch_links(urls: Sequence[str], *, concurrency: int = 8, timeout: float = 10.0,
                      transport: httpx.AsyncBaseTransport | None = None) -> list[LinkResult]:
    """Check every URL over the network, `concurrency` at a time; results in input order."""
    if not urls:
        return []
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        follow_redirects=True, max_redirects=10, timeout=timeout, transport=transport,
        headers={"User-Agent": USER_AGENT, "Accept": "text/html,*/*;q=0.8"},
        limits=httpx.Limits(max_connections=concurrency),
    ) as client:
        return list(await asyncio.gather(*(_check_one(client, url, limit, timeout) for url in urls)))


def probe_links(urls: Iterable[str], *, db: Db | None = None, concurrency: int = 8,
                timeout: float = 10.0, now: dt.datetime | None = None) -> list[LinkResult]:
    """Cached answers younger than a day, the rest fetched (and cached when they answered)."""
    urls = list(dict.fromkeys(urls))
    now = now or dt.datetime.now(dt.UTC)
    cached = get_link_checks(db, urls, since=(now - CACHE_FOR).isoformat(timespec="seconds")) if db else {}
    missing = [u for u in urls if u not in cached]
    fetched = {r.url: r for r in asyncio.run(fetch_links(missing, concurrency=concurrency, timeout=timeout))}
    if db is not None:
        stamp = now.isoformat(timespec="seconds")
        put_link_checks(db, [CachedLink(r.url, r.status, r.final_url, r.redirects, stamp)
                             for r in fetched.values() if r.status is not None])
    results = []
    for url in urls:
        if url in cached:
            c = cached[url]
            results.append(LinkResult(url, c.status, c.final_url, c.redirects, cached=True))
        else:
            results.append(fetched[url])
    return results


def offline_reason(results: Iterable[LinkResult]) -> str:
    """Why the machine seems offline, or "" when it does not.

    It seems offline when the links fetched now (cached answers are older news) point at
    two or more hosts and none could be connected to: then the machine, not the links, is
    the problem, and one sentence says so instead of one "cannot connect" per link. A single
    host that fails is left to its own finding (a mistyped domain is not an outage).
    """
    fetched = [r for r in results if not r.cached]
    if len({urlsplit(r.url).netloc for r in fetched}) < 2:
        return ""
    if any(r.status is not None or not r.error.startswith("cannot connect") for r in fetched):
        return ""
    if all(any(words in r.error.lower() for words in _NO_NAME) for r in fetched):
        return "no host name resolves"
    return "no host accepts a connection"


def link_findings(results: Iterable[LinkResult],
                  locate: Callable[[str, str], str] = lambda url, where: where) -> list[Finding]:
    """Broken, unreachable and redirected links as findings, placed at the item that has them.

    When the machine seems offline the unreachable links become one finding that says so.
    """
    results = list(results)
    findings = []
    offline = offline_reason(results)
    if offline:
        count = sum(1 for r in results if not r.cached)
        findings.append(Finding("link-offline", "error", "email.html",
                                f"none of the {count} link{'s' * (count != 1)} could be reached ({offline}): "
                                "this machine seems to be offline",
                                "connect to the network and run `newsletter check --links` again"))
    for r in results:
        where = locate(r.url, "email.html")
        if r.status is None and offline:
            continue
        if r.status is None:
            timeout = r.error.startswith("no answer")
            findings.append(Finding("link-unreachable", "warning" if timeout else "error", where,
                                    f"{r.url}: {r.error}",
                                    "open it in a browser; if it fails there too, fix or remove the link"))
        elif r.status >= 400:
            blocked = r.status in _BLOCKING
            findings.append(Finding("link-broken", "warning" if blocked else "error", where,
                                    f"{r.url} answers {r.status}" + (f" (via {r.final_url})" if r.redirects else ""),
                                    "the site may turn automated checks away; open it in a browser"
                                    if blocked else "find the page's new address or remove the link"))
        elif r.redirects and r.final_url != r.url:
            findings.append(Finding("link-redirect", "warning", where,
                                    f"{r.url} redirects to {r.final_url} ({', '.join(h.split()[0] for h in r.redirects)})",
                                    "link to the final address"))
    return findings
