"""The unsubscribe server: one-click POST, confirm page, resubscribe, bad tokens, concurrency."""

from __future__ import annotations

import datetime as dt
import mailbox
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient
from support.project import serve_asgi, set_token_secret
from support.signupkit import text_of

from newsletter import journal
from newsletter.cli import main
from newsletter.config import Config, load_config
from newsletter.errors import ConfigError
from newsletter.send import unsubscribe_keys
from newsletter.site.app import create_app
from newsletter.tokens import make_token, read_token, token_keys

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SECRET = b"test-secret-for-unsubscribe-links"
OLD_SECRET = b"the-secret-before-rotation"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def site(config: Config, monkeypatch: pytest.MonkeyPatch) -> Config:
    """The sample project with the token secret in the environment, as `send` would have it."""
    return set_token_secret(monkeypatch, config, SECRET)


@pytest.fixture
def client(site: Config) -> TestClient:
    return TestClient(create_app(site))


def token(config: Config, email: str, secret: bytes = SECRET, list_id: str | None = None) -> str:
    return make_token(secret, list_id or config.list_id, email)


def suppressions(config: Config) -> list[journal.Suppression]:
    db = journal.connect(config.state)
    try:
        return journal.list_suppressions(db)
    finally:
        db.close()


def buttons(html: str) -> list[str]:
    return re.findall(r"<button\b[^>]*>(.*?)</button>", html, re.DOTALL)


# --- one-click (RFC 8058) ---------------------------------------------------------------

def test_one_click_post_unsubscribes_at_once_without_cookies(client: TestClient, site: Config) -> None:
    response = client.post(f"/unsubscribe?t={token(site, 'alice@example.org')}", data=ONE_CLICK)
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert not client.cookies
    [row] = suppressions(site)
    assert (row.key, row.reason, row.source) == ("alice@example.org", "unsubscribed", "one-click")
    assert dt.datetime.fromisoformat(row.created).date() == dt.datetime.now(dt.UTC).date()


def test_one_click_accepts_multipart_form_data(client: TestClient, site: Config) -> None:
    """RFC 8058 says the POST SHOULD be multipart/form-data; Gmail and Yahoo differ."""
    response = client.post(f"/unsubscribe?t={token(site, 'bob@example.org')}",
                           files={"List-Unsubscribe": (None, "One-Click")})
    assert response.status_code == 200
    assert [s.key for s in suppressions(site)] == ["bob@example.org"]


def test_repeated_one_click_posts_are_harmless(client: TestClient, site: Config) -> None:
    url = f"/unsubscribe?t={token(site, 'carol@example.org')}"
    first = client.post(url, data=ONE_CLICK)
    [before] = suppressions(site)
    for _ in range(3):
        again = client.post(url, data=ONE_CLICK)
        assert again.status_code == 200
        assert again.text == first.text
    assert suppressions(site) == [before]  # one row, first time kept


def test_one_click_token_is_for_the_address_in_any_case(client: TestClient, site: Config) -> None:
    response = client.post(f"/unsubscribe?t={token(site, '  Dave@Example.ORG ')}", data=ONE_CLICK)
    assert response.status_code == 200
    db = journal.connect(site.state)
    assert journal.is_suppressed(db, "dave@example.org")
    assert journal.is_suppressed(db, "DAVE@example.org")


def test_oversized_body_is_refused_and_changes_nothing(client: TestClient, site: Config) -> None:
    response = client.post(f"/unsubscribe?t={token(site, 'erin@example.org')}",
                           content=b"List-Unsubscribe=One-Click&pad=" + b"x" * 100_000,
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert suppressions(site) == []


# --- the page: GET never writes, the one button does --------------------------------------

def test_get_shows_one_button_and_never_changes_state(client: TestClient, site: Config) -> None:
    url = f"/unsubscribe?t={token(site, 'frank@example.org')}"
    for _ in range(3):  # mail scanners follow links, some more than once
        page = client.get(url)
        assert page.status_code == 200
        assert "frank@example.org" in page.text
        assert buttons(page.text) == ["Unsubscribe"]
        assert client.head(url).status_code == 200
    assert suppressions(site) == []
    assert "set-cookie" not in page.headers


def test_button_unsubscribes_and_done_page_offers_resubscribe(client: TestClient, site: Config) -> None:
    tok = token(site, "grace@example.org")
    page = client.get(f"/unsubscribe?t={tok}")
    form = dict(re.findall(r'<input type="hidden" name="([a-z]+)" value="([^"]*)">', page.text))
    done = client.post(f"/unsubscribe?t={tok}", data=form)  # what the browser submits
    assert done.status_code == 200
    assert "You are unsubscribed" in done.text
    assert buttons(done.text) == ["Resubscribe"]
    [row] = suppressions(site)
    assert (row.key, row.source) == ("grace@example.org", "web")
    # coming back to the link shows that they are unsubscribed, still without writing
    assert "You are unsubscribed" in client.get(f"/unsubscribe?t={tok}").text
    assert suppressions(site) == [row]


def test_resubscribe_mails_a_confirmation_and_lifts_nothing_until_confirmed(client: TestClient,
                                                                          site: Config) -> None:
    """Double opt-in again: an old or forwarded issue's button alone brings nobody back."""
    tok = token(site, "heidi@example.org")
    client.post(f"/unsubscribe?t={tok}", data=ONE_CLICK)
    back = client.post(f"/unsubscribe?t={tok}", data={"t": tok, "action": "resubscribe"})
    assert back.status_code == 200
    assert "Check your inbox" in back.text and "stay unsubscribed" in back.text
    assert [s.key for s in suppressions(site)] == ["heidi@example.org"]
    assert client.app.state.site.mailer.wait_idle(30)
    [message] = list(mailbox.Maildir(str(site.outbox_dir), create=False))
    assert message["To"] == "heidi@example.org"
    link = re.search(r"https://example\.org/unsubscribe/confirm\?t=(\S+)", text_of(message))
    assert link, message.get_payload()
    assert client.get(f"/unsubscribe/confirm?t={link.group(1)}").status_code == 200  # GET changes nothing
    assert [s.key for s in suppressions(site)] == ["heidi@example.org"]
    done = client.post(f"/unsubscribe/confirm?t={link.group(1)}")
    assert done.status_code == 200 and "You are subscribed" in done.text
    assert suppressions(site) == []
    assert buttons(client.get(f"/unsubscribe?t={tok}").text) == ["Unsubscribe"]
    db = journal.connect(site.state)
    history = [(e.event, e.source) for e in journal.consent_events(db, "heidi@example.org")]
    assert history == [("unsubscribed", "one-click"), ("confirmed", "resubscribe")]


def test_token_in_the_form_alone_is_enough(client: TestClient, site: Config) -> None:
    """A proxy that drops the query string must not break the page's button."""
    tok = token(site, "ivan@example.org")
    assert client.post("/unsubscribe", data={"t": tok, "action": "unsubscribe"}).status_code == 200
    assert [s.key for s in suppressions(site)] == ["ivan@example.org"]


def test_pages_escape_the_address_and_load_nothing_external(client: TestClient, site: Config) -> None:
    tok = token(site, '"<script>alert(1)</script>"@example.org')
    page = client.get(f"/unsubscribe?t={tok}")
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "&lt;script&gt;" in page.text
    assert site.logo is not None
    assert re.findall(r'src="([^"]*)"', page.text) == [site.logo.src]  # only the configured logo loads
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert csp.endswith("; img-src https://example.org")  # the logo's origin, nothing wider
    assert page.headers["referrer-policy"] == "no-referrer"
    assert '<html lang="en-GB">' in page.text


# --- bad tokens: all refused alike ---------------------------------------------------------

def _bad_tokens(config: Config) -> dict[str, str]:
    good = token(config, "judy@example.org")
    other = token(config, "mallory@example.org")
    return {
        "forged": token(config, "judy@example.org", secret=b"not-the-secret"),
        "truncated": good[:-1],
        "shortened mac": good[:-4],
        "padded": good + "A",
        "other list": token(config, "judy@example.org", list_id="another-list.example.org"),
        "swapped address": other.split(".")[0] + "." + good.split(".")[1],
        "no mac": good.split(".")[0],
        "garbage": "%%%not-a-token",
        "empty": "",
    }


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bad_tokens_get_the_same_generic_answer(client: TestClient, site: Config, method: str) -> None:
    answers = {}
    for kind, bad in _bad_tokens(site).items():
        response = client.request(method, "/unsubscribe", params={"t": bad}, data=ONE_CLICK if method == "POST" else None)
        answers[kind] = (response.status_code, response.text)
    missing = client.request(method, "/unsubscribe", data=ONE_CLICK if method == "POST" else None)
    answers["missing"] = (missing.status_code, missing.text)
    assert len(set(answers.values())) == 1, "every bad token must get the very same answer"
    status, text = answers["forged"]
    assert status == 400
    assert "not recognised" in text
    visible = re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", "", text, flags=re.DOTALL)).lower()
    for hint in ("expired", "forged", "signature", "token", "other list", "judy"):
        assert hint not in visible
    assert suppressions(site) == []


def _with_tokens_section(config: Config, lines: str) -> Config:
    path = config.path
    path.write_text(path.read_text() + textwrap.dedent(lines), encoding="utf-8")
    return load_config(path)


def test_old_secret_works_during_its_grace_period(site: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    config = _with_tokens_section(site, f"tokens: {{old_secrets_until: {tomorrow.isoformat()}}}\n")
    monkeypatch.setenv("NEWSLETTER_TOKEN_SECRET_OLD", OLD_SECRET.decode())
    client = TestClient(create_app(config))
    response = client.post(f"/unsubscribe?t={token(config, 'ken@example.org', secret=OLD_SECRET)}", data=ONE_CLICK)
    assert response.status_code == 200
    assert [s.key for s in suppressions(config)] == ["ken@example.org"]


def test_expired_token_is_refused_like_a_forged_one(site: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    yesterday = dt.date.today() - dt.timedelta(days=1)
    config = _with_tokens_section(site, f"tokens: {{old_secrets_until: {yesterday.isoformat()}}}\n")
    monkeypatch.setenv("NEWSLETTER_TOKEN_SECRET_OLD", OLD_SECRET.decode())
    client = TestClient(create_app(config))
    expired = client.post(f"/unsubscribe?t={token(config, 'leo@example.org', secret=OLD_SECRET)}", data=ONE_CLICK)
    forged = client.post(f"/unsubscribe?t={token(config, 'leo@example.org', secret=b'nope')}", data=ONE_CLICK)
    assert (expired.status_code, expired.text) == (forged.status_code, forged.text)
    assert expired.status_code == 400
    assert suppressions(config) == []
    # the current secret still works after the old one expired
    fresh = client.post(f"/unsubscribe?t={token(config, 'leo@example.org')}", data=ONE_CLICK)
    assert fresh.status_code == 200


def test_token_keys_put_the_current_secret_first(site: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_TOKEN_SECRET_OLD", "one, two")
    assert token_keys(site) == [SECRET, b"one", b"two"]
    assert token_keys(site, today=dt.date(2999, 1, 1)) == [SECRET, b"one", b"two"]  # no end date set
    assert read_token(token(site, "a@example.org", secret=b"two"), site.list_id, token_keys(site)) == "a@example.org"


def test_the_server_never_makes_a_secret_and_reads_the_one_send_made(config: Config,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """With no secret set, the server refuses to start (one error line, no file made);
    once `send` has made .newsletter-secret (0600), the server reads that one."""
    monkeypatch.delenv(config.secret_env, raising=False)
    refused = CliRunner().invoke(main, ["serve", "--config", str(config.path)])
    assert refused.exit_code == 1
    [line] = refused.output.strip().splitlines()
    assert line.startswith("error: ") and "never makes one" in line and "Traceback" not in refused.output
    assert not (config.root / ".newsletter-secret").exists()
    with pytest.raises(ConfigError, match="no token secret"):
        create_app(config)
    keys = unsubscribe_keys(config)  # what send does: makes it
    assert (config.root / ".newsletter-secret").stat().st_mode & 0o777 == 0o600
    client = TestClient(create_app(config))
    tok = make_token(keys[0], config.list_id, "mia@example.org")
    assert client.post(f"/unsubscribe?t={tok}", data=ONE_CLICK).status_code == 200


def test_a_secret_file_gone_while_serving_refuses_links_and_says_why(config: Config,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv(config.secret_env, raising=False)
    keys = unsubscribe_keys(config)
    client = TestClient(create_app(config))
    (config.root / ".newsletter-secret").unlink()  # e.g. `git clean -fdX`
    tok = make_token(keys[0], config.list_id, "mia@example.org")
    assert client.post(f"/unsubscribe?t={tok}", data=ONE_CLICK).status_code == 400
    assert not (config.root / ".newsletter-secret").exists()  # nothing made behind anyone's back
    assert "cannot read the token secret" in caplog.text


# --- concurrency: unsubscribes while a send writes -------------------------------------------

_SEND_WRITER = """
import sys
from pathlib import Path
from newsletter import journal
db = journal.connect(Path(sys.argv[1]))
stop = Path(sys.argv[2])
run = journal.open_run(db, "2023-07", subject="s", digest="d", subscribers="subscribers.csv")
print("started", flush=True)
i = 0
while not stop.exists() or i < 100:  # keep sending until every unsubscribe is in
    email = f"r{i}@example.net"
    journal.apply_plan(db, run.id, new=[journal.NewRecipient(email, email, "", None, "pending", "", f"<{i}@x>")],
                       wanted=[], skip=[])
    [claimed] = journal.checkpoint(db, run.id, [], claim=1)
    journal.checkpoint(db, run.id, [journal.Outcome(claimed.key, "sent", "250 ok")])
    journal.is_suppressed(db, f"u{i}@example.org")
    i += 1
print(i, flush=True)
"""


def test_concurrent_unsubscribes_during_a_send_keep_the_database_whole(site: Config) -> None:
    journal.connect(site.state).close()
    stop = site.root / "stop-writing"
    writer = subprocess.Popen([sys.executable, "-c", _SEND_WRITER, str(site.state), str(stop)],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "started"
    people = [f"u{i}@example.org" for i in range(160)]
    errors: list[BaseException] = []

    with serve_asgi(create_app(site)) as base:
        def hammer(chunk: list[str]) -> None:
            try:
                with httpx.Client(base_url=base, timeout=30) as http:
                    for email in chunk:
                        assert http.post(f"/unsubscribe?t={token(site, email)}", data=ONE_CLICK).status_code == 200
                        assert http.post(f"/unsubscribe?t={token(site, email)}", data=ONE_CLICK).status_code == 200
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        def officer() -> None:  # `suppress add` from another connection at the same time
            db = journal.connect(site.state)
            for i in range(40):
                journal.suppress(db, f"manual{i}@example.org", "unsubscribed", "mailto")
            db.close()

        threads = [threading.Thread(target=hammer, args=(people[i::6],)) for i in range(6)]
        threads.append(threading.Thread(target=officer))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    stop.touch()
    assert writer.wait(timeout=60) == 0
    written = int(writer.stdout.read().strip())
    assert not errors

    db = sqlite3.connect(site.state.path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT COUNT(*) FROM suppressions").fetchone()[0] == 200
    assert db.execute("SELECT COUNT(*) FROM suppressions WHERE source = 'one-click'").fetchone()[0] == 160
    assert db.execute("SELECT COUNT(*), MIN(state), MAX(state) FROM recipients").fetchone() == (written, "sent", "sent")


# --- the command ---------------------------------------------------------------------------

def test_unsubscribe_server_command_serves_one_click(site: Config) -> None:
    """`newsletter unsubscribe-server` with the secret from the environment, on a free port."""
    server = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "unsubscribe-server", "--config", str(site.path), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=site.root,
        env={**os.environ, "PYTHONPATH": str(Path.cwd())},
    )
    assert server.stdout is not None
    try:
        lines = []
        for line in server.stdout:
            lines.append(line)
            match = re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", line)
            if match:
                break
        assert match, "".join(lines)
        banner = "".join(lines)
        assert "token secret: $NEWSLETTER_TOKEN_SECRET" in banner
        assert SECRET.decode() not in banner
        url = f"http://127.0.0.1:{match.group(1)}/unsubscribe?t={token(site, 'nina@example.org')}"
        assert httpx.post(url, data=ONE_CLICK).status_code == 200
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    assert [s.key for s in suppressions(site)] == ["nina@example.org"]
    assert "POST /unsubscribe?t=... " in output  # the access log never shows the token
    assert "nina" not in output


def test_unsubscribe_server_with_a_missing_secret_file_is_a_user_error(config: Config) -> None:
    text = config.path.read_text(encoding="utf-8") + "tokens: {secret_file: no-such-secret}\n"
    config.path.write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != config.secret_env}
    result = subprocess.run(
        [sys.executable, "-m", "newsletter", "unsubscribe-server", "--config", str(config.path)],
        check=False, capture_output=True, text=True, env={**env, "PYTHONPATH": str(Path.cwd())}, timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {config.root / 'no-such-secret'}: tokens.secret_file: "
                                    "cannot read the token secret: No such file or directory")
    assert "Traceback" not in result.stderr
