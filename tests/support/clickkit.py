"""A sent issue with counted links, and readers (and a scanner) following them through the
real site app: for the click, report and preview tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from newsletter import journal
from newsletter.config import Config
from newsletter.daterange import parse_range
from newsletter.issue import build_issue, counted_parts, is_canary
from newsletter.site import ClickCounter, create_app
from support.browser import in_own_thread
from support.sendkit import make_project, send, smtp_block, write_csv
from support.smtpserver import SmtpServer

READERS = [(f"reader{i}@example.org", f"Reader {i}") for i in range(6)]
_HREF = re.compile(r'href="([^"]+)"')


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def html_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode("utf-8")
    raise AssertionError("no HTML part")


def counted_hrefs(html: str, config: Config) -> list[str]:
    return [h.replace("&amp;", "&") for h in _HREF.findall(html) if counted_parts(h, config)]


def path_of(url: str) -> str:
    return url[url.index("/r/"):]


@dataclass(frozen=True)
class Sent:
    config: Config
    links: dict[str, list[str]]  # reader -> the counted links in the message they received

    @property
    def every(self) -> list[str]:
        return list(dict.fromkeys(self.links[READERS[0][0]]))

    @property
    def canary(self) -> str:
        return next(u for u in self.every if is_canary(u, self.config))

    @property
    def item_links(self) -> list[str]:
        return [u for u in self.every if not is_canary(u, self.config)]


@pytest.fixture
def sent(tmp_path: Path, server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> Sent:
    """The sample issue with `tracking: {clicks: true}`, sent to six readers over real SMTP."""
    monkeypatch.setenv("NEWSLETTER_TOKEN_SECRET", "test-token-secret")
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port), extra="tracking: {clicks: true}\n")
    build = build_issue(config, parse_range("2023-07", None, None))
    in_own_thread(send, config, build, write_csv(config.root, READERS))  # a browser test's loop may be running
    links = {email: counted_hrefs(html_of(server.handler.received(email)[0]), config) for email, _ in READERS}
    return Sent(config, links)


@dataclass(frozen=True)
class Clicked:
    sent: Sent
    popular: str  # the item URL twenty clicks went to
    rare: str  # the item URL two clicks went to


@pytest.fixture
def clicked(sent: Sent) -> Iterator[Clicked]:
    """A scanner sweeps every link; three readers click one item 20 times, one reader
    another twice; one reader unsubscribes."""
    clock = Clock()
    with TestClient(create_app(sent.config, clicks=ClickCounter(clock))) as client:
        for url in sent.every:
            clock.now += 0.05
            client.get(path_of(url), headers={"user-agent": "SafeLinks/1.0"}, follow_redirects=False)
        popular, rare = sent.item_links[0], sent.item_links[-1]
        for agent, clicks in (("Firefox", 8), ("Safari", 7), ("Outlook", 5)):
            for _ in range(clicks):
                clock.now += 1
                client.get(path_of(popular), headers={"user-agent": agent}, follow_redirects=False)
        for _ in range(2):
            clock.now += 1
            last = client.get(path_of(rare), headers={"user-agent": "Thunderbird"}, follow_redirects=False)
        rare_target = last.headers["location"]
        popular_target = client.head(path_of(popular), follow_redirects=False)  # HEAD: not counted
    with journal.connect(sent.config.state) as db:
        journal.suppress(db, READERS[1][0], journal.SuppressionReason.UNSUBSCRIBED, "one-click")
    yield Clicked(sent, popular_target.headers["location"], rare_target)
