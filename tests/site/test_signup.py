"""The sign-up page (issue 19): form, double opt-in by mail, bot limits, consent, send, export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import mailbox
import re
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient
from support.project import set_token_secret

from newsletter import journal
from newsletter.audience import claim_mail, confirm, forget_expired, read_request, record_request
from newsletter.cli import main
from newsletter.config import Config, load_config
from newsletter.errors import NewsletterError
from newsletter.site.app import create_app
from newsletter.tokens import make_link_token, make_stamp

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SECRET = b"test-secret-for-sign-ups"
CONSENT = "Yes, send me {name} every month. I can unsubscribe at any time."
LINK_RE = re.compile(r"https://example\.org/subscribe/confirm\?t=(\S+)")


def signup_config(root: Path, monkeypatch: pytest.MonkeyPatch, **settings: object) -> Config:
    """The sample project with a `subscribe:` block (plus `settings`) and the token secret set."""
    values = {"url": '"https://example.org/subscribe"', "consent": f'"{CONSENT}"', **settings}
    block = ", ".join(f"{key}: {value}" for key, value in values.items())
    path = root / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8") + f"subscribe: {{{block}}}\n", encoding="utf-8")
    return set_token_secret(monkeypatch, load_config(path), SECRET)


@pytest.fixture
def site(project: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    return signup_config(project, monkeypatch, client_limit=100)


@pytest.fixture
def client(site: Config) -> TestClient:
    return TestClient(create_app(site))


_SHOWN = [0]


def stamp(config: Config, age: float = 10) -> str:
    """The form's hidden stamp, as if the page had been shown `age` seconds ago, or a
    second before the last one made (a stamp is good for one post only)."""
    shown = int(time.time() - age)
    _SHOWN[0] = shown = shown if not _SHOWN[0] or shown < _SHOWN[0] else _SHOWN[0] - 1
    return make_stamp(SECRET, config.list_id, shown)


def sign_up(client: TestClient, config: Config, email: str, **fields: object) -> str:
    data = {"email": email, "stamp": stamp(config), "source": "page", **fields}
    response = client.post("/subscribe", data=data)
    assert response.status_code == 200, response.text
    assert "Please check your details" not in response.text  # not asked again
    drained(client)
    return response.text


def drained(client: TestClient) -> None:
    """Wait for the background sender to finish the mails queued so far."""
    assert client.app.state.site.mailer.wait_idle(30)


def outbox(config: Config) -> list[mailbox.MaildirMessage]:
    if not config.outbox_dir.exists():
        return []
    return list(mailbox.Maildir(str(config.outbox_dir), create=False))


def text_of(message: mailbox.MaildirMessage) -> str:
    """The plain-text part, which comes first (the mail also has a branded HTML part)."""
    plain = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    return plain.get_payload(decode=True).decode()


def link_in(message: mailbox.MaildirMessage) -> str:
    body = text_of(message)
    match = LINK_RE.search(body)
    assert match, body
    return f"/subscribe/confirm?t={match.group(1)}"


def db_of(config: Config) -> journal.Db:
    return journal.connect(config.state)


def buttons(html: str) -> list[str]:
    return re.findall(r"<button\b[^>]*>(.*?)</button>", html, re.DOTALL)


def heading(html: str) -> str:
    return re.search(r"<h1[^>]*>(.*?)</h1>", html, re.DOTALL).group(1)


def mailed_to(config: Config) -> list[str]:
    return sorted(m["To"] for m in outbox(config))


# --- the page -------------------------------------------------------------------------------

def test_no_subscribe_block_means_no_page(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    client = TestClient(create_app(set_token_secret(monkeypatch, config, SECRET)))
    assert client.get("/subscribe").status_code == 404
    assert client.post("/subscribe", data={"email": "a@example.org"}).status_code in (404, 405)


def test_page_has_the_fields_the_consent_wording_and_one_button(client: TestClient, site: Config) -> None:
    page = client.get("/subscribe")
    assert page.status_code == 200
    html = page.text
    assert heading(html) == "Subscribe to Safeguarding digest"
    assert re.search(r'<label for="signup-email">Email address</label>\s*<input type="email" id="signup-email" '
                     r'name="email" required', html)
    assert '<label for="signup-name">Name' in html
    assert [t for t in site.themes if f'value="{t}"' in html] == list(site.themes)
    assert "Yes, send me Safeguarding digest every month. I can unsubscribe at any time." in html
    assert buttons(html) == ["Subscribe"]
    assert "<script" not in html
    assert "style-src 'sha256-" in page.headers["content-security-policy"]
    assert "set-cookie" not in page.headers
    assert outbox(site) == [] and journal.get_signup(db_of(site), "a@example.org") is None


# --- double opt-in --------------------------------------------------------------------------

@pytest.mark.usefixtures("backend")  # first: the config then reads its state
def test_sign_up_mails_a_link_whose_get_changes_nothing_and_post_confirms(client: TestClient, site: Config) -> None:
    answer = sign_up(client, site, " Pat@Example.org ", name="Pat Doe", theme=["Neglect", "Online safety"])
    assert heading(answer) == "Check your inbox"
    [message] = outbox(site)
    assert message["To"] == "pat@example.org"
    assert message["Subject"] == "Please confirm your subscription to Safeguarding digest"
    [pending] = journal.requests_of(db_of(site), "pat@example.org")
    assert journal.get_signup(db_of(site), "pat@example.org") is None and pending.mail == "sent"
    assert (pending.name, pending.themes, pending.source) == ("Pat Doe", ("Online safety", "Neglect"), "page")
    link = link_in(message)
    for _ in range(3):  # mail scanners follow links, some more than once
        page = client.get(link)
        assert page.status_code == 200
        assert buttons(page.text) == ["Confirm"] and "pat@example.org" in page.text
    assert journal.get_signup(db_of(site), "pat@example.org") is None
    assert journal.confirmed_signups(db_of(site)) == []

    done = client.post(link)
    assert done.status_code == 200 and heading(done.text) == "You are subscribed"
    [row] = journal.confirmed_signups(db_of(site))
    assert row.email == "pat@example.org" and row.consent == CONSENT.replace("{name}", "Safeguarding digest")
    assert row.requested <= row.confirmed
    again = client.post(link)  # idempotent: same answer, the first confirmation kept
    assert again.status_code == 200 and heading(again.text) == "You are subscribed"
    assert journal.confirmed_signups(db_of(site)) == [row]
    assert len(outbox(site)) == 1


def test_the_button_posts_the_token_in_the_form_too(client: TestClient, site: Config) -> None:
    sign_up(client, site, "quinn@example.org")
    token = link_in(outbox(site)[0]).partition("?t=")[2]
    assert client.post("/subscribe/confirm", data={"t": token}).status_code == 200
    assert [s.email for s in journal.confirmed_signups(db_of(site))] == ["quinn@example.org"]


def test_the_answer_is_the_same_whoever_the_address_is(client: TestClient, site: Config) -> None:
    """No enumeration: new, pending, confirmed, bounced and unknown-looking addresses all read alike."""
    db = db_of(site)
    journal.suppress(db, "bounced@example.org", "hard-bounce", "smtp:550")
    sign_up(client, site, "known@example.org")
    client.post(link_in(outbox(site)[0]))
    answers = {email: sign_up(client, site, email).replace(email, "ADDRESS")
               for email in ("new@example.org", "known@example.org", "bounced@example.org", "new@example.org")}
    assert len(set(answers.values())) == 1
    assert mailed_to(site) == ["known@example.org", "new@example.org"]


# --- bad links --------------------------------------------------------------------------------

def test_expired_forged_and_garbled_links_get_one_page_without_a_hint(client: TestClient, site: Config) -> None:
    sign_up(client, site, "rob@example.org")
    nonce = journal.requests_of(db_of(site), "rob@example.org")[-1].nonce
    past = int(time.time()) - 60
    tokens = [
        make_link_token(SECRET, site.list_id, "rob@example.org", nonce, past),  # expired
        make_link_token(b"another secret", site.list_id, "rob@example.org", nonce, past + 3600),  # forged
        make_link_token(SECRET, "other.list", "rob@example.org", nonce, past + 3600),  # another list
        make_link_token(SECRET, site.list_id, "rob@example.org", "old-nonce", past + 3600),  # replaced
        link_in(outbox(site)[0]).partition("?t=")[2][:-2],  # cut short
        "",
    ]
    pages = set()
    for token in tokens:
        for response in (client.get(f"/subscribe/confirm?t={token}"),
                         client.post(f"/subscribe/confirm?t={token}", data={"t": token})):
            assert response.status_code == 400
            assert buttons(response.text) == []
            pages.add(response.text)
    assert len(pages) == 1
    [page] = pages
    assert "This link is not recognised" in page and "expired" in page and 'href="/subscribe"' in page
    assert journal.confirmed_signups(db_of(site)) == []


def test_an_unsubscribe_token_is_no_confirmation_link(client: TestClient, site: Config) -> None:
    from newsletter.tokens import make_token

    sign_up(client, site, "sue@example.org")
    token = make_token(SECRET, site.list_id, "sue@example.org")
    assert client.post("/subscribe/confirm", data={"t": token}).status_code == 400
    assert journal.confirmed_signups(db_of(site)) == []


# --- bots ---------------------------------------------------------------------------------------

def test_twenty_sign_ups_for_one_address_send_one_confirmation(client: TestClient, site: Config) -> None:
    answers = {sign_up(client, site, "victim@example.org", name=f"Bot {i}") for i in range(20)}
    assert len(answers) == 1
    assert mailed_to(site) == ["victim@example.org"]
    # the link of that one mail still works after the other nineteen requests
    assert client.post(link_in(outbox(site)[0])).status_code == 200


@pytest.mark.usefixtures("backend")  # first: the config then reads its state
def test_at_once_twenty_requests_claim_one_mail(site: Config) -> None:
    request = read_request(site, "burst@example.org", "", (), "page")
    ids = [record_request(db_of(site), request).id for _ in range(20)]
    claims: list[str] = []

    def claim(request_id: int) -> None:
        db = db_of(site)
        try:
            claims.append(claim_mail(db, request_id, hourly_cap=100).status)
        finally:
            db.close()

    threads = [threading.Thread(target=claim, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claims) == ["claimed"] + ["recent"] * 19


def test_one_mail_an_hour_per_mailbox_then_a_new_request_is_mailed(site: Config) -> None:
    db = db_of(site)
    first = record_request(db, read_request(site, "slow@example.org", "", (), "page"))
    tagged = record_request(db, read_request(site, "Slow+news@example.org", "", (), "page"))
    assert claim_mail(db, first.id, hourly_cap=100).status == "claimed"
    assert claim_mail(db, tagged.id, hourly_cap=100).status == "recent"  # the same mailbox
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=61)
    again = record_request(db, read_request(site, "slow@example.org", "", (), "page"))
    assert claim_mail(db, again.id, hourly_cap=100, now=later).status == "claimed"
    assert again.nonce != first.nonce  # every request is its own, with its own link


def test_unconfirmed_sign_ups_are_forgotten_once_their_link_expires(site: Config) -> None:
    db = db_of(site)
    never = record_request(db, read_request(site, "never@example.org", "", (), "page"))
    kept = record_request(db, read_request(site, "kept@example.org", "", (), "page"))
    for request in (never, kept):
        assert claim_mail(db, request.id, hourly_cap=100).status == "claimed"
        journal.set_request_mail(db, request.id, "sent")
    assert confirm(db, "kept@example.org", kept.nonce) is not None
    record_request(db, read_request(site, "kept@example.org", "Someone else", (), "page"))  # later, unmailed
    assert forget_expired(db, 7) == 0  # within the week nothing goes
    eight_days_on = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
    assert forget_expired(db, 7, now=eight_days_on) == 1
    assert journal.requests_of(db, "never@example.org") == []
    assert len(journal.requests_of(db, "kept@example.org")) == 2  # a confirmed address keeps its history
    assert journal.get_signup(db, "kept@example.org") is not None


def test_honeypot_filled_gets_the_same_answer_and_nothing_happens(client: TestClient, site: Config) -> None:
    honest = sign_up(client, site, "honest@example.org")
    trapped = sign_up(client, site, "bait@example.org", website="http://spam.example")
    assert trapped.replace("bait@", "honest@") == honest
    assert mailed_to(site) == ["honest@example.org"]
    assert journal.requests_of(db_of(site), "bait@example.org") == []


@pytest.mark.parametrize("form_stamp", ["", "now", "forged", "1.AAAAAAAAAAAAAAAAAAAAAA"])
def test_a_post_without_a_stamp_old_enough_shows_the_form_again_filled_in(
        client: TestClient, site: Config, form_stamp: str) -> None:
    now = int(time.time())
    value = {"now": make_stamp(SECRET, site.list_id, now),
             "forged": make_stamp(b"x", site.list_id, now - 60)}.get(form_stamp, form_stamp)
    response = client.post("/subscribe", data={"email": "fast@example.org", "name": "Fast", "stamp": value,
                                               "source": "snippet", "theme": "Neglect"})
    assert response.status_code == 200
    html = response.text
    assert "Please check your details and press Subscribe." in html and buttons(html) == ["Subscribe"]
    assert 'value="fast@example.org"' in html and 'value="Fast"' in html
    assert 'value="Neglect" checked' in html and 'name="source" value="snippet"' in html
    assert outbox(site) == [] and journal.requests_of(db_of(site), "fast@example.org") == []


def test_per_client_limit_refuses_then_stores_no_address(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = signup_config(project, monkeypatch, client_limit=3)
    client = TestClient(create_app(config))
    for i in range(3):
        sign_up(client, config, f"person{i}@example.org")
    refused = client.post("/subscribe", data={"email": "person3@example.org", "stamp": stamp(config)})
    assert refused.status_code == 429 and refused.headers["retry-after"] == "3600"
    assert "Too many sign-ups" in refused.text
    assert mailed_to(config) == [f"person{i}@example.org" for i in range(3)]
    other = TestClient(create_app(config), client=("192.0.2.7", 50000))  # another client is not limited
    assert "Check your inbox" in sign_up(other, config, "person4@example.org")
    dump = "\n".join(db_of(config).raw.iterdump())
    assert "testclient" not in dump and "192.0.2.7" not in dump  # the client's address is never stored


def test_invalid_address_is_asked_again(client: TestClient, site: Config) -> None:
    response = client.post("/subscribe", data={"email": "not-an-address", "stamp": stamp(site)})
    assert response.status_code == 400
    assert "Please enter a valid email address" in response.text and 'value="not-an-address"' in response.text
    assert outbox(site) == []


@pytest.mark.parametrize("reason", ["hard-bounce", "complaint"])
def test_bounced_or_complaining_addresses_get_no_mail(client: TestClient, site: Config, reason: str) -> None:
    journal.suppress(db_of(site), "gone@example.org", reason, "test")
    assert heading(sign_up(client, site, "gone@example.org")) == "Check your inbox"
    assert outbox(site) == []


@pytest.mark.usefixtures("backend")  # first: the config then reads its state
def test_an_unsubscribed_address_comes_back_only_by_confirming_again(client: TestClient, site: Config) -> None:
    db = db_of(site)
    sign_up(client, site, "back@example.org")
    old_link = link_in(outbox(site)[0])
    client.post(old_link)
    journal.suppress(db, "back@example.org", "unsubscribed", "one-click")
    client.post(old_link)  # following the old link again does not undo the unsubscribe
    assert journal.is_suppressed(db, "back@example.org")
    db.execute("UPDATE signup_requests SET mailed = '2000-01-01T00:00:00+00:00'")  # an hour later
    sign_up(client, site, "back@example.org")
    assert len(outbox(site)) == 2
    assert journal.is_suppressed(db, "back@example.org")  # requested, not yet confirmed
    new_link = next(link for link in map(link_in, outbox(site)) if link != old_link)
    assert client.get(old_link).status_code == 400  # the new request replaced the old one
    assert client.post(new_link).status_code == 200
    assert not journal.is_suppressed(db, "back@example.org")


# --- send and export ----------------------------------------------------------------------------

def confirm_all(client: TestClient, site: Config, *emails: str) -> None:
    for email in emails:
        sign_up(client, site, email)
    for message in outbox(site):
        assert client.post(link_in(message)).status_code == 200


def test_send_plans_confirmed_sign_ups_with_the_csv(client: TestClient, site: Config) -> None:
    from support.sendkit import plan_send

    from newsletter.daterange import parse_range
    from newsletter.issue import build_issue

    listed = (site.root / "subscribers.csv").read_text(encoding="utf-8")
    in_csv = re.search(r"^([^,\s]+@[^,\s]+),", listed.splitlines()[1]).group(1)
    confirm_all(client, site, "fresh@example.org", in_csv.upper(), "bounced@example.org")
    sign_up(client, site, "pending@example.org")  # never confirmed
    journal.suppress(db_of(site), "bounced@example.org", "hard-bounce", "smtp:550")
    plan = plan_send(site, build_issue(site, parse_range("2023-07", None, None)), site.root / "subscribers.csv")
    keys = [s.key for s in plan.subscribers.subscribers]
    assert keys.count("fresh@example.org") == 1 and keys.count(in_csv.lower()) == 1
    assert "pending@example.org" not in keys
    assert plan.from_signups == 2  # fresh and bounced; the CSV's own address counts once, as the CSV's
    assert plan.excluded.get("suppressed (hard-bounce)") == 1  # suppressions win

    result = CliRunner().invoke(main, ["send", "2023-07", "--dry-run", "--config", str(site.path)])
    assert result.exit_code == 0, result.output
    assert "Sign-ups: 2 confirmed on the sign-up page and not in the CSV, added to the list" in result.output
    assert f"To send: {plan.to_send}" in result.output


def test_export_lists_confirmed_sign_ups_with_their_consent(client: TestClient, site: Config) -> None:
    confirm_all(client, site, "consent@example.org")
    sign_up(client, site, "pending@example.org")
    result = CliRunner().invoke(main, ["subscribers", "export", "--config", str(site.path)])
    assert result.exit_code == 0, result.output
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert "pending@example.org" not in rows
    row = rows["consent@example.org"]
    [signup] = journal.confirmed_signups(db_of(site))
    assert row["status"] == "subscribed"
    assert (row["signup_requested"], row["signup_confirmed"]) == (signup.requested, signup.confirmed)
    assert (row["signup_source"], row["consent"]) == ("page", signup.consent)
    assert all(r["signup_confirmed"] == "" for email, r in rows.items() if email != "consent@example.org")


# --- the snippet, the command, the config -----------------------------------------------------

def test_snippet_posts_to_the_page_and_its_sign_ups_are_marked_snippet(client: TestClient, site: Config) -> None:
    result = CliRunner().invoke(main, ["subscribe-form", "--config", str(site.path)])
    assert result.exit_code == 0, result.output
    snippet = result.stdout
    assert '<form method="post" action="https://example.org/subscribe"' in snippet
    assert 'name="website"' in snippet and "position:absolute" in snippet  # the honeypot, hidden inline
    assert "Yes, send me Safeguarding digest every month." in snippet and "<script" not in snippet
    fields = dict(re.findall(r'<input type="hidden" name="([a-z]+)" value="([^"]*)">', snippet))
    again = client.post("/subscribe", data={**fields, "email": "web@example.org"})  # no stamp: one more step
    assert 'name="source" value="snippet"' in again.text and outbox(site) == []
    form = dict(re.findall(r'<input type="hidden" name="([a-z]+)" value="([^"]*)">', again.text))
    form["stamp"] = stamp(site)  # as if the visitor read the page for ten seconds
    assert heading(client.post("/subscribe", data={**form, "email": "web@example.org"}).text) == "Check your inbox"
    drained(client)
    client.post(link_in(outbox(site)[0]))
    assert [s.source for s in journal.confirmed_signups(db_of(site))] == ["snippet"]


def test_subscribe_form_without_a_block_is_one_error_line(config: Config) -> None:
    result = CliRunner().invoke(main, ["subscribe-form", "--config", str(config.path)])
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and "no `subscribe:` block" in result.output
    assert "Traceback" not in result.output


def test_serve_is_the_command_and_unsubscribe_server_its_old_name() -> None:
    for name in ("serve", "unsubscribe-server"):
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0 and "sign-up page" in result.output


@pytest.mark.parametrize(("block", "message"), [
    ('{url: "ftp://example.org/subscribe"}', "subscribe.url" and "not a web address"),
    ('{url: "https://example.org/unsubscribe"}', "must have another path than unsubscribe.url"),
    ('{url: "https://example.org/subscribe", expires_days: -1}', "must be a positive number"),
    ('{url: "https://example.org/subscribe", captcha: yes}', "unknown setting"),
    ("{consent: Hello}", "missing"),
])
def test_subscribe_block_errors_name_the_line(project: Path, block: str, message: str) -> None:
    path = project / "newsletter.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + f"subscribe: {block}\n", encoding="utf-8")
    with pytest.raises(NewsletterError) as caught:
        load_config(path)
    assert message in str(caught.value)
    assert f"newsletter.yaml:{len(text.splitlines()) + 1}:" in str(caught.value)
