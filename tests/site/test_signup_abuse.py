"""The sign-up page probed as an attacker would (issue 28): one request path for every
address, mail off the request path, limits that hold, consent that cannot be erased."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import mailbox
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.project import set_token_secret
from support.signupkit import text_of, with_mail_delay
from support.smtpserver import FaultyHandler, SmtpServer

from newsletter import journal
from newsletter.audience import clean_name, client_network, forget_expired, mailbox_key
from newsletter.config import Config, load_config
from newsletter.site.app import create_app
from newsletter.site.pages import SubscriberSite
from newsletter.tokens import make_stamp

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SECRET = b"test-secret-for-abuse"
LINK_RE = re.compile(r"https://example\.org/subscribe/confirm\?t=(\S+)")
_SHOWN = [0]


def configure(root: Path, monkeypatch: pytest.MonkeyPatch, *, smtp_port: int | None = None,
              **settings: object) -> Config:
    values = {"url": '"https://example.org/subscribe"', "client_limit": 100, **settings}
    block = ", ".join(f"{key}: {value}" for key, value in values.items())
    extra = f"subscribe: {{{block}}}\n"
    if smtp_port:
        extra += f'smtp: {{host: "127.0.0.1", port: {smtp_port}, security: none, retry_delay: 0.1}}\n'
    path = root / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return set_token_secret(monkeypatch, load_config(path), SECRET)


def stamp(config: Config) -> str:
    shown = int(time.time() - 10)
    _SHOWN[0] = shown = shown if not _SHOWN[0] or shown < _SHOWN[0] else _SHOWN[0] - 1
    return make_stamp(SECRET, config.list_id, shown)


def post(client: TestClient, config: Config, email: str, **fields: str) -> tuple[int, str]:
    response = client.post("/subscribe", data={"email": email, "stamp": stamp(config), **fields})
    return response.status_code, response.text


def heading(html: str) -> str:
    return re.search(r"<h1[^>]*>(.*?)</h1>", html, re.DOTALL).group(1)


def idle(client: TestClient) -> None:
    assert client.app.state.site.mailer.wait_idle(30)


def db_of(config: Config) -> journal.Db:
    return journal.connect(config.state)


def link_of(message: bytes | str) -> str:
    text = message.decode() if isinstance(message, bytes) else message
    match = LINK_RE.search(text.replace("=\r\n", "").replace("=\n", ""))
    assert match, text
    return f"/subscribe/confirm?t={match.group(1)}"


@contextlib.contextmanager
def held_relay() -> Iterator[tuple[SmtpServer, threading.Event]]:
    """A real relay whose DATA waits until the test lets it go."""
    release = threading.Event()

    class Holding(FaultyHandler):
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            while not release.is_set():
                await asyncio.sleep(0.02)
            return await super().handle_DATA(server, session, envelope)

    with SmtpServer(Holding()) as server:
        try:
            yield server, release
        finally:
            release.set()


def _shape(sql: str) -> str:
    """A statement with its values blanked: what the code did, not with which address."""
    return re.sub(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b", "?", sql)


# --- 1. one path for every address ------------------------------------------------------------

def test_member_stranger_bounced_and_pending_get_the_same_answer_and_the_same_work(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The request path runs the same statements for every address and answers before any
    mail work: the relay holds every DATA, yet every answer is back, byte for byte alike."""
    with held_relay() as (relay, release):
        config = configure(project, monkeypatch, smtp_port=relay.port)
        db = db_of(config)
        journal.suppress(db, "bounced@example.org", "hard-bounce", "smtp:550")
        journal.add_request(db, email="pending@example.org", mailbox="pending@example.org", name="",
                            themes=None, source="page", consent="")
        member = journal.add_request(db, email="member@example.org", mailbox="member@example.org", name="",
                                     themes=None, source="page", consent="")
        journal.set_request_mail(db, member.id, "sent")
        journal.confirm_request(db, "member@example.org", member.nonce)

        traced: list[str] = []
        original = SubscriberSite.db

        @contextlib.contextmanager
        def tracing(self: SubscriberSite) -> Iterator[journal.Db]:
            with original(self) as conn:
                conn.raw.set_trace_callback(traced.append)  # the SQLite connection under the Db
                yield conn

        monkeypatch.setattr(SubscriberSite, "db", tracing)
        client = TestClient(create_app(config))
        answers, work = {}, {}
        for email in ("stranger@example.org", "member@example.org", "bounced@example.org", "pending@example.org"):
            traced.clear()
            status, html = post(client, config, email)
            assert status == 200
            answers[email] = html.replace(email, "ADDRESS")
            work[email] = [_shape(sql) for sql in traced]
        assert len(set(answers.values())) == 1 and heading(next(iter(answers.values()))) == "Check your inbox"
        assert len({tuple(w) for w in work.values()}) == 1, work
        assert not [sql for sql in work["member@example.org"] if "suppressions" in sql or "signups " in sql]
        assert relay.handler.messages == []  # every answer went out while the relay held the mail
        release.set()
        idle(client)
    assert sorted(relay.handler.counts()) == ["pending@example.org", "stranger@example.org"]


def test_a_failed_confirmation_mail_is_retried_and_not_locked_out(project: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A 451 is tried again with backoff; the visitor is not locked out for an hour."""
    handler = FaultyHandler()
    handler.data_replies["retry@example.org"] = ["451 4.3.0 <retry@example.org>: try again later"]
    with SmtpServer(handler) as relay:
        config = configure(project, monkeypatch, smtp_port=relay.port)
        client = TestClient(create_app(config, mail_retry_delay=0.1))
        post(client, config, "retry@example.org")
        idle(client)
        assert handler.counts() == {"retry@example.org": 1}
        [request] = journal.requests_of(db_of(config), "retry@example.org")
        assert request.mail == "sent"


def test_a_mail_that_never_goes_gives_the_hour_back(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    handler = FaultyHandler()
    handler.data_replies["stuck@example.org"] = ["451 4.3.0 <stuck@example.org> busy"] * 10
    with SmtpServer(handler) as relay:
        config = configure(project, monkeypatch, smtp_port=relay.port)
        client = TestClient(create_app(config, mail_retry_delay=0.05))
        with caplog.at_level(logging.INFO, logger="newsletter.unsubscribe"):
            post(client, config, "stuck@example.org")
            idle(client)
        [request] = journal.requests_of(db_of(config), "stuck@example.org")
        assert (request.mail, request.mailed) == ("failed", None)
        post(client, config, "stuck@example.org")  # they may ask again at once
        idle(client)
    assert len(journal.requests_of(db_of(config), "stuck@example.org")) == 2
    assert "stuck@example.org" not in caplog.text and "<address> busy" in caplog.text  # replies scrubbed


def test_the_sender_uses_few_connections_for_many_sign_ups(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with SmtpServer() as relay:
        config = configure(project, monkeypatch, smtp_port=relay.port)
        client = TestClient(create_app(config))
        for i in range(12):
            post(client, config, f"many{i}@example.org")
        idle(client)
    assert len(relay.handler.counts()) == 12
    assert relay.max_active <= 2


# --- 2. limits that hold ------------------------------------------------------------------------

def test_tag_variants_of_one_mailbox_get_one_mail(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = configure(project, monkeypatch)
    client = TestClient(create_app(config))
    for address in ["victim@example.org", *(f"victim+{i}@example.org" for i in range(10)), "VICTIM+x@Example.org"]:
        assert post(client, config, address)[0] == 200
    for address in ["j.doe@gmail.com", "jdoe@googlemail.com", "J.D.O.E+news@gmail.com"]:
        assert post(client, config, address)[0] == 200
    idle(client)
    sent = sorted(m["To"] for m in mailbox.Maildir(str(config.outbox_dir), create=False))
    assert sent == ["j.doe@gmail.com", "victim@example.org"]


def test_mailbox_key_and_client_network() -> None:
    assert mailbox_key("Pat+news@Example.org") == "pat@example.org"
    assert mailbox_key("p.a.t+x@googlemail.com") == "pat@gmail.com"
    assert mailbox_key("p.a.t@example.org") == "p.a.t@example.org"  # dots matter elsewhere
    assert client_network("2001:db8:1:2:3:4:5:6") == client_network("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert client_network("2001:db8:1:3::1") != client_network("2001:db8:1:2::1")
    assert client_network("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_network("192.0.2.7") == "192.0.2.7"


def test_one_ipv6_64_is_one_client(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = configure(project, monkeypatch, client_limit=3)
    app = create_app(config)
    answers = [post(TestClient(app, client=(f"2001:db8:aa:bb::{i:x}", 40000)), config, f"p{i}@example.org")[0]
               for i in range(1, 7)]
    assert answers == [200, 200, 200, 429, 429, 429]
    other = TestClient(app, client=("2001:db8:aa:cc::1", 40000))
    assert post(other, config, "q@example.org")[0] == 200


def test_hourly_cap_holds_and_warns(project: Path, monkeypatch: pytest.MonkeyPatch,
                                   caplog: pytest.LogCaptureFixture) -> None:
    config = configure(project, monkeypatch, hourly_limit=3)
    client = TestClient(create_app(config))
    with caplog.at_level(logging.INFO, logger="newsletter.unsubscribe"):
        for i in range(6):
            post(client, config, f"cap{i}@example.org")
        idle(client)
    assert len(list(mailbox.Maildir(str(config.outbox_dir), create=False))) == 3
    assert "hourly cap of 3 confirmation mails reached" in caplog.text
    assert "@example.org" not in caplog.text  # no address in any log line


def test_stamps_are_single_use_and_expire(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = configure(project, monkeypatch)
    client = TestClient(create_app(config))
    used = stamp(config)
    first = client.post("/subscribe", data={"email": "a@example.org", "stamp": used})
    again = client.post("/subscribe", data={"email": "b@example.org", "stamp": used})
    old = make_stamp(SECRET, config.list_id, int(time.time()) - 3700)
    stale = client.post("/subscribe", data={"email": "c@example.org", "stamp": old})
    assert heading(first.text) == "Check your inbox"
    for response in (again, stale):
        assert "Please check your details and press Subscribe." in response.text
    idle(client)
    assert journal.requests_of(db_of(config), "b@example.org") == []
    assert journal.requests_of(db_of(config), "c@example.org") == []


def test_posts_from_other_sites_are_refused_but_allowed_origins_work_in_one_press(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = configure(project, monkeypatch, allowed_origins='["https://www.example.org"]')
    client = TestClient(create_app(config))
    for origin in ("https://evil.example", "null"):
        refused = client.post("/subscribe", headers={"Origin": origin},
                              data={"email": "csrf@example.org", "stamp": stamp(config)})
        assert refused.status_code == 403 and "sent from another website" in refused.text
        assert 'value="csrf@example.org"' not in refused.text
    own = client.post("/subscribe", headers={"Origin": "https://example.org"},
                      data={"email": "own@example.org", "stamp": stamp(config)})
    assert heading(own.text) == "Check your inbox"
    snippet = client.post("/subscribe", headers={"Origin": "https://www.example.org"},
                          data={"email": "pasted@example.org", "source": "snippet"})  # no stamp: static page
    assert heading(snippet.text) == "Check your inbox"
    idle(client)
    assert journal.requests_of(db_of(config), "csrf@example.org") == []
    [pasted] = journal.requests_of(db_of(config), "pasted@example.org")
    assert pasted.source == "snippet"
    assert client.get("/subscribe").headers["referrer-policy"] == "same-origin"


def test_names_lose_control_characters() -> None:
    assert clean_name("Pat\x00 \x1b[31mDoe\u202e\t") == "Pat [31mDoe"


def test_trailing_slash_redirects_to_the_configured_address(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = configure(project, monkeypatch)
    client = TestClient(create_app(config), base_url="http://attacker.example")
    response = client.get("/subscribe/", follow_redirects=False)
    assert response.status_code == 308 and response.headers["location"] == "https://example.org/subscribe"


# --- 3. consent that nobody can erase ------------------------------------------------------------

def confirm_by_mail(client: TestClient, config: Config, email: str, **fields: str) -> None:
    post(client, config, email, **fields)
    idle(client)
    mine = [m for m in mailbox.Maildir(str(config.outbox_dir), create=False) if m["To"] == email]
    assert client.post(link_of(text_of(mine[-1]))).status_code == 200


def test_a_resubmission_for_an_unsubscribed_address_leaves_its_history_intact(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = configure(project, monkeypatch)
    client = TestClient(create_app(config))
    confirm_by_mail(client, config, "kept@example.org", name="Kept")
    db = db_of(config)
    [signup] = journal.confirmed_signups(db)
    journal.suppress(db, "kept@example.org", "unsubscribed", "one-click")
    journal.record_consent_event(db, "kept@example.org", "unsubscribed", source="one-click")
    before = journal.consent_events(db, "kept@example.org")
    post(client, config, "kept@example.org", name="Mallory")  # a third party, within the hour: no mail
    db.execute("UPDATE signup_requests SET mailed = '2000-01-01T00:00:00+00:00'")  # and a day later
    post(client, config, "kept@example.org", name="Mallory")
    idle(client)
    forget_expired(db, 7, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
    assert journal.consent_events(db, "kept@example.org") == before  # nothing rewritten, nothing deleted
    assert journal.confirmed_signups(db) == [signup]  # confirmation date and wording kept
    assert [r.name for r in journal.requests_of(db, "kept@example.org")] == ["Kept", "Mallory", "Mallory"]
    assert journal.is_suppressed(db, "kept@example.org")  # still out until they confirm themselves


def test_a_third_party_cannot_change_a_pending_request(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = configure(project, monkeypatch)
    client = TestClient(create_app(config))
    post(client, config, "victim@example.org", name="Victim", theme="Neglect")
    idle(client)
    [mail] = list(mailbox.Maildir(str(config.outbox_dir), create=False))
    post(client, config, "victim@example.org", name="Attacker", theme="Online safety")
    idle(client)
    assert client.post(link_of(text_of(mail))).status_code == 200
    [signup] = journal.confirmed_signups(db_of(config))
    assert (signup.name, signup.themes) == ("Victim", ("Neglect",))


def test_mail_work_waits_a_random_delay_after_the_answer(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing about a new address happens right behind its request (MAIL_DELAY is back on)."""
    with_mail_delay(monkeypatch, (1.0, 2.0))
    config = configure(project, monkeypatch)
    client = TestClient(create_app(config))
    assert post(client, config, "later@example.org")[0] == 200
    mailer = client.app.state.site.mailer
    assert not mailer.wait_idle(0.5)  # still held back
    assert [r.mail for r in journal.requests_of(db_of(config), "later@example.org")] == ["queued"]
    idle(client)
    assert [m["To"] for m in mailbox.Maildir(str(config.outbox_dir), create=False)] == ["later@example.org"]


def test_a_restarted_server_mails_what_the_stopped_one_left(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = configure(project, monkeypatch)
    db = db_of(config)
    left = journal.add_request(db, email="left@example.org", mailbox="left@example.org", name="", themes=None,
                               source="page", consent="")
    cut = journal.add_request(db, email="cut@example.org", mailbox="cut@example.org", name="", themes=None,
                              source="page", consent="")
    db.execute("UPDATE signup_requests SET mail = 'sending', mailed = ? WHERE id = ?", (journal.now(), cut.id))
    with TestClient(create_app(config)) as client:  # the server starts: lifespan runs
        idle(client)
        assert [m["To"] for m in mailbox.Maildir(str(config.outbox_dir), create=False)] == ["left@example.org"]
    [request] = journal.requests_of(db, "cut@example.org")
    assert (request.mail, request.mailed) == ("failed", None)  # they may ask again at once
    assert journal.get_request(db, left.id).mail == "sent"
