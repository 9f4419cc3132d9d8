"""Counted links end to end: a real send through a real SMTP server, the site's `/r/` route,
the in-memory bot filter, and the real SQLite state file afterwards."""

from __future__ import annotations

import re
import sqlite3
from email.message import Message
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.sendkit import make_project, send, smtp_block, write_csv
from support.smtpserver import SmtpServer

from newsletter import journal
from newsletter.config.loader import Config
from newsletter.daterange import DateRange, parse_range
from newsletter.issue.build import build_issue
from newsletter.issue.counted import counted_parts, is_canary
from newsletter.site.app import create_app
from newsletter.site.clicks import ClickCounter
from newsletter.tokens import make_click_link, token_keys

pytestmark = [pytest.mark.usefixtures("token_secret"), pytest.mark.filterwarnings("ignore::DeprecationWarning")]

READERS = [(f"reader{i}@example.org", f"Reader {i}") for i in range(6)]
_HREF = re.compile(r'href="([^"]+)"')


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _html(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode("utf-8")
    raise AssertionError("no HTML part")


def _counted_hrefs(html: str, config: Config) -> list[str]:
    return [h.replace("&amp;", "&") for h in _HREF.findall(html) if counted_parts(h, config)]


def _path(url: str) -> str:
    return url[url.index("/r/"):]


@pytest.fixture
def sent(tmp_path: Path, server: SmtpServer) -> tuple[Config, dict[str, list[str]]]:
    """The sample issue with `tracking: {clicks: true}`, sent to six readers; each one's counted links."""
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port), extra="tracking: {clicks: true}\n")
    build = build_issue(config, _month())
    send(config, build, write_csv(config.root, READERS))
    links = {email: _counted_hrefs(_html(server.handler.received(email)[0]), config) for email, _ in READERS}
    return config, links


def _month() -> DateRange:
    return parse_range("2023-07", None, None)


def test_every_reader_gets_the_same_counted_links_with_no_identity_in_them(
        sent: tuple[Config, dict[str, list[str]]]) -> None:
    config, links = sent
    first = links[READERS[0][0]]
    assert len(first) > 10
    assert all(found == first for found in links.values())  # no per-reader id, no token
    for url in first:
        assert "?" not in url and "t=" not in url
        assert not any(email.split("@")[0] in url for email, _ in READERS)
    assert sum(is_canary(u, config) for u in first) == 1


def test_twenty_clicks_count_twenty_and_a_scanner_burst_counts_nothing(
        sent: tuple[Config, dict[str, list[str]]]) -> None:
    config, links = sent
    every = list(dict.fromkeys(links[READERS[0][0]]))
    item_link = next(u for u in every if not is_canary(u, config))
    clock = Clock()
    app = create_app(config, clicks=ClickCounter(clock))
    with TestClient(app) as client:
        # a link scanner fetches every link of the message (the canary too) within a second
        for url in every:
            clock.now += 0.05
            client.get(_path(url), headers={"user-agent": "SafeLinks/1.0"}, follow_redirects=False)
        # three readers, twenty clicks on one item between them, some minutes apart
        for agent, clicks in (("Firefox", 8), ("Safari", 7), ("Outlook", 5)):
            for _ in range(clicks):
                clock.now += 1
                answer = client.get(_path(item_link), headers={"user-agent": agent}, follow_redirects=False)
                assert answer.status_code == 302
                assert "set-cookie" not in answer.headers
        target = answer.headers["location"]
        # HEAD requests (link previews) are answered but never counted
        for _ in range(3):
            assert client.head(_path(item_link), follow_redirects=False).status_code == 302
        clock.now += 60  # every window closes; the next hit stores them
        client.get(_path(item_link), headers={"user-agent": "Late reader"}, follow_redirects=False)
        with journal.connect(config.state_file) as db:
            counts = journal.click_counts(db, "2023-07")
        assert counts == {target: 20}
    with journal.connect(config.state_file) as db:  # shutdown counts the late reader's open window
        assert journal.click_counts(db, "2023-07") == {target: 21}


def test_a_reader_who_follows_the_canary_has_that_burst_discarded(
        sent: tuple[Config, dict[str, list[str]]]) -> None:
    config, links = sent
    every = list(dict.fromkeys(links[READERS[0][0]]))
    canary = next(u for u in every if is_canary(u, config))
    item_link = next(u for u in every if not is_canary(u, config))
    clock = Clock()
    with TestClient(create_app(config, clicks=ClickCounter(clock))) as client:
        assert client.get(_path(item_link), headers={"user-agent": "bot"}, follow_redirects=False).status_code == 302
        assert client.get(_path(canary), headers={"user-agent": "bot"}, follow_redirects=False).status_code == 204
        client.get(_path(item_link), headers={"user-agent": "person"}, follow_redirects=False)
    with journal.connect(config.state_file) as db:
        assert sum(journal.click_counts(db, "2023-07").values()) == 1


def test_the_route_is_no_open_redirect(sent: tuple[Config, dict[str, list[str]]]) -> None:
    config, links = sent
    item_link = _path(next(u for u in links[READERS[0][0]] if not is_canary(u, config)))
    secret = token_keys(config)[0]
    evil = make_click_link(b"not-the-secret", config.list_id, "2023-07", "https://evil.example/")
    body, mac = item_link.rsplit("/", 1)[1].split(".")
    swapped = f"/r/2023-07/{evil.split('.')[0]}.{mac}"
    other_issue = "/r/2023-08/" + make_click_link(secret, config.list_id, "2023-07", "https://example.org/a")
    with TestClient(create_app(config)) as client:
        for path in (f"/r/2023-07/{evil}", swapped, other_issue, item_link[:-1] + ("A" if item_link[-1] != "A" else "B"),
                     "/r/2023-07/" + body, "/r/../x/y"):
            answer = client.get(path, follow_redirects=False)
            assert answer.status_code in (404, 400), path
            assert "location" not in answer.headers
    with journal.connect(config.state_file) as db:
        assert journal.click_counts(db, "2023-07") == {}


def test_the_click_table_holds_no_subscriber_address(
        sent: tuple[Config, dict[str, list[str]]], tmp_path: Path) -> None:
    config, links = sent
    with TestClient(create_app(config)) as client:
        for email, _ in READERS:
            for url in links[email][:2]:
                client.get(_path(url), headers={"user-agent": email, "x-forwarded-for": email},
                           follow_redirects=False)
    copy = tmp_path / "clicks-only.db"
    with sqlite3.connect(config.state_file) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    db = sqlite3.connect(copy, isolation_level=None)  # only the click table kept, the file rewritten
    assert db.execute("SELECT SUM(count) FROM clicks").fetchone()[0] > 0
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'clicks'").fetchall():
        db.execute(f"DROP TABLE {table}")
    db.execute("VACUUM")
    db.close()
    data = copy.read_bytes()
    for email, name in READERS:
        assert email.encode() not in data and name.encode() not in data
    assert b"testclient" not in data  # the client's network address is not there either
