"""Going live: a relay send makes its own token secret, and relay mistakes fail in seconds with one line.

Run as a user runs it: `newsletter init`, an `smtp:` block, `newsletter send` in a subprocess
without a token secret in the environment. The relay is aiosmtpd on 127.0.0.1; the DNS that
says a mistyped host does not exist is dnslib on 127.0.0.1 ($NEWSLETTER_NAMESERVER).
"""

from __future__ import annotations

import datetime as dt
import email
import os
import subprocess
import sys
import time
from email.message import Message
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient
from support.dnsserver import ZoneServer
from support.project import item_yaml
from support.smtpserver import SmtpServer, free_port

from newsletter import journal
from newsletter.config import load_config
from newsletter.site import create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPO = Path(__file__).resolve().parents[2]
MONTH = (dt.date.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
ZONE = "relay.example.org. 300 IN A 127.0.0.1\n"


def newsletter(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    return subprocess.run([sys.executable, "-m", "newsletter", *args], cwd=cwd, capture_output=True, text=True,
                          env={**base, "PYTHONPATH": str(REPO), **(env or {})}, timeout=120, check=False)


def relay_folder(tmp_path: Path, host: str, port: int, security: str = "none") -> Path:
    """A folder from `init`, its secret removed (as if never made), pointed at a relay."""
    # a sender of its own: example.org settings stop a send through a relay that is not local
    assert newsletter("init", "digest", "--from", "Digest <news@digest-letters.org.uk>", cwd=tmp_path).returncode == 0
    folder = tmp_path / "digest"
    (folder / ".newsletter-secret").unlink()
    for starter in (folder / "items").glob("*.yaml"):  # placeholders stop a relay send before it connects
        starter.unlink()
    for n, theme in enumerate(("News", "Reports", "Events")):
        (folder / "items" / f"{theme}.yaml").write_text(
            item_yaml(title=f"{theme} of the month", date=f"{MONTH}-0{n + 1}", theme=theme,
                      url=f"https://digest-letters.org.uk/{theme}"), encoding="utf-8")
    with open(folder / "newsletter.yaml", "a", encoding="utf-8") as fh:
        fh.write(f"smtp: {{host: {host}, port: {port}, security: {security}, retry_delay: 1, timeout: 10}}\n")
    return folder


def test_relay_send_makes_the_secret_and_the_site_accepts_its_links(tmp_path: Path) -> None:
    with SmtpServer() as relay:
        folder = relay_folder(tmp_path, "127.0.0.1", relay.port)
        result = newsletter("send", MONTH, "--yes", cwd=folder)
        assert result.returncode == 0, result.stderr
        messages = [email.message_from_bytes(raw) for _, raw in relay.handler.messages]
    secret = folder / ".newsletter-secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert f"Made a token secret in {secret} (mode 0600)" in result.stderr
    assert len(messages) == 2
    config = load_config(folder / "newsletter.yaml")
    client = TestClient(create_app(config))  # no secret in the environment here either
    assert client.post(_one_click_path(messages[0]), data={"List-Unsubscribe": "One-Click"}).status_code == 200
    db = journal.connect(config.state)
    assert [s.key for s in journal.list_suppressions(db)] == [email.utils.parseaddr(messages[0]["To"])[1]]
    db.close()
    again = newsletter("send", MONTH, "--yes", cwd=folder)
    assert "Made a token secret" not in again.stderr  # said once


def _one_click_path(message: Message) -> str:
    https = next(u.strip().strip("<>") for u in message["List-Unsubscribe"].split(",") if "https:" in u)
    url = urlsplit(https)
    return f"{url.path}?{url.query}"


def _fails_fast(folder: Path, env: dict[str, str] | None = None) -> tuple[list[str], str]:
    started = time.monotonic()
    result = newsletter("send", MONTH, "--yes", cwd=folder, env=env)
    assert time.monotonic() - started < 30  # not a minute of retries
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"Nothing was sent. Once that is fixed, resume with: newsletter send {MONTH} --yes" in result.stdout
    db = journal.connect(folder / "newsletter.db")  # the unsubscribed example row is skipped, nobody sent
    run = journal.get_run(db, MONTH)
    assert run is not None and {r.state for r in journal.run_recipients(db, run.id)} == {"pending", "skipped"}
    db.close()
    return [line for line in result.stderr.splitlines() if line.startswith("error:")], result.stdout


def test_a_relay_host_that_does_not_resolve_is_one_error_naming_smtp_host(tmp_path: Path) -> None:
    folder = relay_folder(tmp_path, "relay.exmaple.org", 587, "starttls")
    with ZoneServer(ZONE) as dns:
        errors, _ = _fails_fast(folder, {"NEWSLETTER_NAMESERVER": dns.address})
    assert errors == [f"error: smtp.host: relay.exmaple.org does not resolve in DNS (asked {dns.address}); "
                      "check the relay's host name"]


def test_a_closed_port_is_one_error_naming_smtp_port(tmp_path: Path) -> None:
    port = free_port()
    folder = relay_folder(tmp_path, "127.0.0.1", port)
    errors, _ = _fails_fast(folder)
    assert errors == [f"error: smtp.port: 127.0.0.1 refused the connection on port {port}: nothing listens "
                      "there; check the port (587 for starttls, 465 for tls) and the host"]
    with SmtpServer(port=port) as relay:  # fixed: the same command resumes and sends
        assert newsletter("send", MONTH, "--yes", cwd=folder).returncode == 0
        assert len(relay.handler.messages) == 2


def test_tls_against_a_plain_port_is_one_error_naming_smtp_security(tmp_path: Path) -> None:
    with SmtpServer() as relay:  # speaks plain SMTP; the config says TLS from the first byte
        folder = relay_folder(tmp_path, "127.0.0.1", relay.port, "tls")
        errors, _ = _fails_fast(folder)
    assert len(errors) == 1
    assert errors[0].startswith(f"error: smtp.security: TLS with 127.0.0.1:{relay.port} failed (")
    assert errors[0].endswith("use security: tls for port 465, starttls for 587")
