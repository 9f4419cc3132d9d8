"""End to end: the mail client's one-click button and a bounce keep `send` away from an address."""

from __future__ import annotations

import email
import mailbox
from email.message import Message
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner, Result
from starlette.testclient import TestClient

from newsletter import journal
from newsletter.cli import main
from newsletter.config import Config
from newsletter.site import create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "bounces"


def cli(config: Config, *args: str) -> Result:
    result = CliRunner().invoke(main, [*args, "--config", str(config.path)])
    assert result.exit_code == 0, result.output
    return result


def outbox(config: Config, month: str) -> dict[str, Message]:
    """Messages in the embedded outbox for one issue, by recipient address."""
    box = mailbox.Maildir(config.outbox_dir, create=False)
    messages = [email.message_from_bytes(box.get_bytes(key)) for key in box.iterkeys()]
    return {email.utils.parseaddr(m["To"])[1].lower(): m for m in messages if month in m["Subject"]}


def one_click(config: Config, message: Message) -> int:
    """What Gmail does when the subscriber presses its Unsubscribe button (RFC 8058)."""
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https = next(u.strip().strip("<>") for u in message["List-Unsubscribe"].split(",") if "https:" in u)
    url = urlsplit(https)
    assert f"{url.scheme}://{url.netloc}{url.path}" == config.unsubscribe_url
    client = TestClient(create_app(config))
    return client.post(f"{url.path}?{url.query}", data={"List-Unsubscribe": "One-Click"}).status_code


@pytest.mark.usefixtures("backend")
def test_unsubscribed_and_bounced_addresses_are_skipped_by_the_next_send(
    config: Config, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(config.secret_env, raising=False)  # the embedded default: .newsletter-secret
    monkeypatch.chdir(config.root)
    july = config.root / "july.csv"
    july.write_text("email,name\nalice@example.org,Alice\nbob@example.org,Bob\ncarol@example.org,Carol\n")
    cli(config, "build", "2023-07")
    cli(config, "send", "2023-07", "--subscribers", str(july), "--yes")
    sent = outbox(config, "July 2023")
    assert sorted(sent) == ["alice@example.org", "bob@example.org", "carol@example.org"]

    # Alice presses her mail client's unsubscribe button; Bob's mailbox no longer exists.
    assert one_click(config, sent["alice@example.org"]) == 200
    dsn = (SAMPLES / "postfix-hard.eml").read_bytes()
    dsn = dsn.replace(b"alice@example.com", b"bob@example.org")
    dsn = dsn.replace(b"<nl1.a11ce00000000000001@example.org>", sent["bob@example.org"]["Message-ID"].encode())
    bounces = mailbox.Maildir(tmp_path / "Bounces", create=True)
    bounces.add(dsn)
    imported = cli(config, "bounces", "import", str(tmp_path / "Bounces"))
    assert "  suppressed now: 1 (1 hard, 0 after repeated soft bounces)" in imported.output
    assert "Bounces: 1 hard, 0 soft" in cli(config, "status", "2023-07").output
    assert "2023-07 (rehearsal): started" in cli(config, "status").output

    db = journal.connect(config.state)
    assert {s.key: (s.reason, s.source) for s in journal.list_suppressions(db)} == {
        "alice@example.org": ("unsubscribed", "one-click"),
        "bob@example.org": ("hard-bounce", "bounce:5.1.1"),
    }

    # The CRM's next export still lists them (in its own spelling): they are not mailed.
    august = config.root / "august.csv"
    august.write_text("email,name,status\nALICE@Example.org,Alice,subscribed\n bob@example.org ,Bob,\n"
                      "carol@example.org,Carol,subscribed\ndan@example.org,Dan,\n")
    cli(config, "build", "2023-08")
    report = cli(config, "send", "2023-08", "--subscribers", str(august), "--yes").output
    assert "To send: 2" in report
    assert "  excluded: 1 suppressed (hard-bounce)" in report
    assert "  excluded: 1 suppressed (unsubscribed)" in report
    assert sorted(outbox(config, "August 2023")) == ["carol@example.org", "dan@example.org"]
