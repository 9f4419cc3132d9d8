"""Counted links end to end: a real send through a real SMTP server, the site's `/r/` route,
the in-memory bot filter, and the real SQLite state file afterwards."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.clickkit import READERS, Clicked, Clock, Sent, path_of

from newsletter import journal
from newsletter.issue import is_canary
from newsletter.site.app import create_app
from newsletter.site.clicks import ClickCounter
from newsletter.tokens import make_click_link, token_keys

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_every_reader_gets_the_same_counted_links_with_no_identity_in_them(sent: Sent) -> None:
    first = sent.links[READERS[0][0]]
    assert len(first) > 10
    assert all(found == first for found in sent.links.values())  # no per-reader id, no token
    for url in first:
        assert "?" not in url and "t=" not in url
        assert not any(email.split("@")[0] in url for email, _ in READERS)
    assert sum(is_canary(u, sent.config) for u in first) == 1


def test_twenty_clicks_count_twenty_and_a_scanner_burst_counts_nothing(sent: Sent) -> None:
    item_link = sent.item_links[0]
    clock = Clock()
    with TestClient(create_app(sent.config, clicks=ClickCounter(clock))) as client:
        # a link scanner fetches every link of the message (the canary too) within a second
        for url in sent.every:
            clock.now += 0.05
            client.get(path_of(url), headers={"user-agent": "SafeLinks/1.0"}, follow_redirects=False)
        # three readers, twenty clicks on one item between them
        for agent, clicks in (("Firefox", 8), ("Safari", 7), ("Outlook", 5)):
            for _ in range(clicks):
                clock.now += 1
                answer = client.get(path_of(item_link), headers={"user-agent": agent}, follow_redirects=False)
                assert answer.status_code == 302
                assert "set-cookie" not in answer.headers
        target = answer.headers["location"]
        # HEAD requests (link previews) are answered but never counted
        for _ in range(3):
            assert client.head(path_of(item_link), follow_redirects=False).status_code == 302
        clock.now += 60  # every window closes; the next hit stores them
        client.get(path_of(item_link), headers={"user-agent": "Late reader"}, follow_redirects=False)
        with journal.connect(sent.config.state) as db:
            assert journal.click_counts(db, "2023-07") == {target: 20}
    with journal.connect(sent.config.state) as db:  # shutdown counts the late reader's open window
        assert journal.click_counts(db, "2023-07") == {target: 21}


def test_a_client_that_follows_the_canary_has_that_burst_discarded(sent: Sent) -> None:
    item_link = sent.item_links[0]
    with TestClient(create_app(sent.config, clicks=ClickCounter(Clock()))) as client:
        assert client.get(path_of(item_link), headers={"user-agent": "bot"}, follow_redirects=False).status_code == 302
        assert client.get(path_of(sent.canary), headers={"user-agent": "bot"},
                          follow_redirects=False).status_code == 204
        client.get(path_of(item_link), headers={"user-agent": "person"}, follow_redirects=False)
    with journal.connect(sent.config.state) as db:
        assert sum(journal.click_counts(db, "2023-07").values()) == 1


def test_the_route_is_no_open_redirect(sent: Sent) -> None:
    config = sent.config
    item_link = path_of(sent.item_links[0])
    secret = token_keys(config)[0]
    evil = make_click_link(b"not-the-secret", config.list_id, "2023-07", "https://evil.example/")
    body, mac = item_link.rsplit("/", 1)[1].split(".")
    swapped = f"/r/2023-07/{evil.split('.')[0]}.{mac}"
    other_issue = "/r/2023-08/" + make_click_link(secret, config.list_id, "2023-07", "https://example.org/a")
    altered = item_link[:-1] + ("A" if item_link[-1] != "A" else "B")
    with TestClient(create_app(config)) as client:
        for path in (f"/r/2023-07/{evil}", swapped, other_issue, altered, "/r/2023-07/" + body):
            answer = client.get(path, follow_redirects=False)
            assert answer.status_code == 404, path
            assert "location" not in answer.headers
    with journal.connect(config.state) as db:
        assert journal.click_counts(db, "2023-07") == {}


def test_the_click_table_holds_no_subscriber_address(clicked: Clicked, tmp_path: Path) -> None:
    config = clicked.sent.config
    copy = tmp_path / "clicks-only.db"
    with sqlite3.connect(str(config.state.path)) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    assert READERS[0][0].encode() in copy.read_bytes()  # the send's own tables do hold them
    db = sqlite3.connect(copy, isolation_level=None)  # keep only the click table, rewrite the file
    assert db.execute("SELECT SUM(hits) FROM clicks").fetchone()[0] == 22
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'clicks'").fetchall():
        db.execute(f"DROP TABLE {table}")
    db.execute("VACUUM")
    db.close()
    data = copy.read_bytes()
    for email, name in READERS:
        assert email.encode() not in data and name.encode() not in data
    for trace in (b"testclient", b"Firefox", b"Safari", b"SafeLinks"):  # no network address, no user agent
        assert trace not in data


def test_a_state_file_that_cannot_be_written_never_breaks_a_redirect_nor_loses_a_count(
        sent: Sent, caplog: pytest.LogCaptureFixture) -> None:
    state = sent.config.state.path
    assert state is not None
    item_link = path_of(sent.item_links[0])
    clock = Clock()
    with TestClient(create_app(sent.config, clicks=ClickCounter(clock)), raise_server_exceptions=False) as client:
        client.get(item_link, headers={"user-agent": "Firefox"}, follow_redirects=False)
        state.rename(state.with_suffix(".moved"))
        state.mkdir()  # the state file is gone: nothing can be written
        clock.now += 60
        answer = client.get(item_link, headers={"user-agent": "Safari"}, follow_redirects=False)
        assert answer.status_code == 302  # the reader still gets where they clicked
        assert "could not store click counts" in caplog.text
        state.rmdir()
        state.with_suffix(".moved").rename(state)
        clock.now += 60
        client.get(item_link, headers={"user-agent": "Outlook"}, follow_redirects=False)
        with journal.connect(state) as db:
            assert sum(journal.click_counts(db, "2023-07").values()) == 2  # the first, kept; the second
    with journal.connect(state) as db:
        assert sum(journal.click_counts(db, "2023-07").values()) == 3
