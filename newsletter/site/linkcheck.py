"""`check` for counted links: every `/r/` link in the email, asked of the site's own route.

The built email and text part are searched for counted links; each is sent, in process
(no network, no server), as a HEAD request to the subscriber site app `newsletter serve`
runs, with this folder's token secret. HEAD is never counted and the app gets a state file
of its own in a temporary folder, so checking writes nothing. A link passes when the
route answers 302 to the URL the link carries and that URL is one of the issue's item
URLs (the canary passes with 204). A link that does not resolve means the site would
answer readers with "link not valid": most often a token secret that differs from the
one the issue was built with.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

from starlette.types import ASGIApp, Message

from newsletter import journal
from newsletter.config import Config
from newsletter.issue import BuildResult, Finding, counted_target, error, is_canary, is_counted, item_anchors
from newsletter.site.app import create_app

__all__ = ["check_counted_links"]

_URL = re.compile(r"""https?://[^\s"'<>]+""")


def _item_urls(config: Config, result: BuildResult) -> set[str]:
    issue = result.rendered.issue
    urls = {link.url for item in issue.items for link in item.links}
    urls |= {s.url for item in issue.items for s in item.see_also}
    if config.archive_url:
        web = f"{config.archive_url.rstrip('/')}/{issue.range.slug}/"
        urls |= {f"{web}#{anchor}" for anchor in item_anchors(issue.items)}
    return urls


async def _head(app: ASGIApp, url: str) -> tuple[int, str]:
    """One HEAD request through the ASGI app: (status, Location)."""
    parts = urlsplit(url)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "HEAD",
             "scheme": parts.scheme, "path": parts.path, "raw_path": parts.path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", parts.netloc.encode())], "client": ("127.0.0.1", 0),
             "server": (parts.hostname or "localhost", parts.port or 443)}
    answer: dict[str, object] = {}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["location"] = dict(message.get("headers", [])).get(b"location", b"").decode("latin-1")

    await app(scope, receive, send)
    return int(str(answer.get("status", 0))), str(answer.get("location", ""))


def _links(result: BuildResult, config: Config) -> dict[str, str]:
    """Counted link -> the file it is in (email.html first)."""
    found: dict[str, str] = {}
    for name in ("email.html", "email.txt"):
        text = result.files[name].decode("utf-8").replace("&amp;", "&")
        for url in _URL.findall(text):
            if is_counted(url, config):
                found.setdefault(url, name)
    return found


def check_counted_links(config: Config, result: BuildResult) -> list[Finding]:
    """An error for each counted link the site would not send to its item's URL."""
    links = _links(result, config)
    if not links:
        return []
    expected = _item_urls(config, result)
    with tempfile.TemporaryDirectory(prefix="newsletter-check-") as folder:
        app = create_app(config, state=journal.StateLocation(path=Path(folder) / "check.db"))

        async def ask_all() -> list[tuple[int, str]]:
            return [await _head(app, url) for url in links]

        answers = asyncio.run(ask_all())
    findings = []
    for (url, where), (status, location) in zip(links.items(), answers, strict=True):
        if is_canary(url, config):
            ok = status == 204
            target = "the canary's empty answer"
        else:
            target = counted_target(url, config) or "?"
            ok = status == 302 and unquote(location) == unquote(target) and target in expected
        if not ok:
            findings.append(error(
                "counted-link", where,
                f"the counted link {url} does not lead to {target} through the site (it answers {status}"
                + (f" to {location}" if location else "") + ")",
                "build with the token secret the subscriber site uses (NEWSLETTER_TOKEN_SECRET or "
                ".newsletter-secret), and run `newsletter serve` from this version"))
    return findings
