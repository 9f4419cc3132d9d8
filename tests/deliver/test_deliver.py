"""Delivery against a real aiosmtpd server on 127.0.0.1 with injected faults.

Every test checks what the officer would see: who received how many messages, each
recipient's state in the journal, and what the report says.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from support.sendkit import make_project, plan_send, rows, send, smtp_block, states, write_csv
from support.smtpserver import SmtpServer, free_port, self_signed_tls

from newsletter import journal
from newsletter.config import load_config
from newsletter.daterange import parse_range
from newsletter.deliver.connection import Transport, check_transport
from newsletter.deliver.pace import RateLimiter
from newsletter.errors import ConfigError, SendError
from newsletter.issue import BuildResult, build_issue

pytestmark = pytest.mark.usefixtures("token_secret")  # the secret a real send has


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    config = make_project(tmp_path_factory.mktemp("build") / "digest")
    return build_issue(config, parse_range("2023-07", None, None))


def project(tmp_path: Path, port: int, **smtp: object):
    return make_project(tmp_path / "digest", smtp=smtp_block(port, **smtp))


def test_every_recipient_gets_exactly_one_message_over_few_connections(tmp_path: Path, server: SmtpServer,
                                                                       built: BuildResult) -> None:
    config = project(tmp_path, server.port, concurrency=3)
    report = send(config, built, write_csv(config.root, 30))
    assert report.sent == 30 and report.complete, report.stopped
    assert server.handler.counts() == {f"user{i}@example.org": 1 for i in range(30)}
    assert set(states(config).values()) == {"sent"}
    assert server.connections == 3  # persistent: many messages per connection


def test_reconnects_after_the_configured_number_of_messages(tmp_path: Path, server: SmtpServer,
                                                            built: BuildResult) -> None:
    config = project(tmp_path, server.port, concurrency=1, reconnect_after=4)
    send(config, built, write_csv(config.root, 10))
    assert server.connections == 3
    assert len(server.handler.messages) == 10


def test_421_at_connect_is_retried(tmp_path: Path, built: BuildResult) -> None:
    with SmtpServer(busy_connections=2) as server:
        config = project(tmp_path, server.port)
        report = send(config, built, write_csv(config.root, 6))
    assert report.sent == 6 and report.complete
    assert server.handler.counts() == {f"user{i}@example.org": 1 for i in range(6)}


def test_451_on_rcpt_then_success(tmp_path: Path, server: SmtpServer, built: BuildResult) -> None:
    server.handler.rcpt_replies["user1@example.org"] = ["451 4.3.0 greylisted, try again"]
    config = project(tmp_path, server.port, rate=1000)  # 4xx lowers the pace; keep it brisk
    report = send(config, built, write_csv(config.root, 3))
    assert report.sent == 3 and report.deferred == 0 and report.complete
    assert server.handler.counts()["user1@example.org"] == 1
    row = rows(config)["user1@example.org"]
    assert row.state == "sent" and row.attempts == 2


def test_4xx_until_retries_run_out_leaves_the_recipient_deferred_for_a_resume(
        tmp_path: Path, server: SmtpServer, built: BuildResult) -> None:
    server.handler.rcpt_replies["user0@example.org"] = ["450 4.2.1 mailbox busy"] * 3
    config = project(tmp_path, server.port, rate=1000)
    csv = write_csv(config.root, 2)
    report = send(config, built, csv)
    assert report.deferred == 1 and not report.complete
    assert rows(config)["user0@example.org"].reply == "450 4.2.1 mailbox busy"
    assert [f.email for f in report.failures] == ["user0@example.org"]
    assert report.failures_csv is not None and "450 4.2.1 mailbox busy" in report.failures_csv.read_text()
    again = send(config, built, csv)  # the same command again: the server now accepts
    assert again.sent == 1 and again.complete
    assert server.handler.counts() == {"user0@example.org": 1, "user1@example.org": 1}


def test_454_throttling_lowers_the_rate_and_everyone_is_delivered(tmp_path: Path, server: SmtpServer,
                                                                  built: BuildResult) -> None:
    server.handler.all_rcpt_replies = ["454 4.7.0 too many messages, slow down"] * 3
    config = project(tmp_path, server.port, rate=200, retries=5)
    events: list[str] = []
    plan = plan_send(config, built, write_csv(config.root, 12))
    from newsletter.send import send_issue

    report = send_issue(plan, handle_signals=False, on_event=events.append)
    assert report.sent == 12 and report.complete
    assert server.handler.counts() == {f"user{i}@example.org": 1 for i in range(12)}
    slowed = [e for e in events if "slow down" in e]
    assert slowed and "pace now 100.0 msgs/s" in slowed[0]


def test_550_fails_the_recipient_keeps_the_reply_and_suppresses_the_address(
        tmp_path: Path, server: SmtpServer, built: BuildResult) -> None:
    server.handler.rcpt_replies["user2@example.org"] = ["550 5.1.1 no such user"]
    config = project(tmp_path, server.port)
    csv = write_csv(config.root, 4)
    report = send(config, built, csv)
    assert report.sent == 3 and report.failed == 1 and report.suppressed == 1 and report.complete
    row = rows(config)["user2@example.org"]
    assert (row.state, row.reply) == ("failed", "550 5.1.1 no such user")
    db = journal.connect(config.state)
    [entry] = journal.list_suppressions(db)
    db.close()
    assert (entry.key, entry.reason, entry.source) == ("user2@example.org", "hard-bounce",
                                                         "smtp:550 5.1.1 no such user")
    # a resume does not try it again; --retry-failed would, but the address is now suppressed
    again = send(config, built, csv, retry_failed=True)
    assert again.sent == 0 and "user2@example.org" not in server.handler.counts()
    assert rows(config)["user2@example.org"].state == "skipped"


def test_5xx_after_the_message_fails_without_suppressing(tmp_path: Path, server: SmtpServer,
                                                         built: BuildResult) -> None:
    server.handler.data_replies["user0@example.org"] = ["554 5.7.1 message refused as spam"]
    config = project(tmp_path, server.port)
    report = send(config, built, write_csv(config.root, 2))
    assert report.failed == 1 and report.suppressed == 0 and report.sent == 1
    assert rows(config)["user0@example.org"].reply == "554 5.7.1 message refused as spam"


def test_sender_refused_stops_the_run_without_failing_anyone(tmp_path: Path, server: SmtpServer,
                                                             built: BuildResult) -> None:
    server.handler.mail_replies = ["553 5.7.1 sender not owned by user"] * 50
    config = project(tmp_path, server.port)
    csv = write_csv(config.root, 5)
    report = send(config, built, csv)
    assert report.fatal and "refused the sender" in (report.stopped or "")
    assert set(states(config).values()) == {"pending"}
    server.handler.mail_replies.clear()
    assert send(config, built, csv).sent == 5


def test_connection_dropped_during_data_is_resent_once(tmp_path: Path, server: SmtpServer,
                                                       built: BuildResult) -> None:
    server.handler.data_replies["user1@example.org"] = ["drop"]
    config = project(tmp_path, server.port)
    report = send(config, built, write_csv(config.root, 4))
    assert report.complete and report.sent == 4
    assert server.handler.counts() == {f"user{i}@example.org": 1 for i in range(4)}


def test_dropped_after_the_server_kept_it_is_reported_as_a_possible_duplicate(
        tmp_path: Path, server: SmtpServer, built: BuildResult) -> None:
    server.handler.data_replies["user1@example.org"] = ["accept-drop"]
    config = project(tmp_path, server.port)
    report = send(config, built, write_csv(config.root, 3))
    assert report.complete and report.possible_duplicates == 1
    assert server.handler.counts()["user1@example.org"] == 2
    flagged = {email for email, row in rows(config).items() if row.possible_duplicate}
    assert flagged == {"user1@example.org"}


def test_a_server_that_drops_every_message_stops_the_run(tmp_path: Path, server: SmtpServer,
                                                        built: BuildResult) -> None:
    for i in range(20):
        server.handler.data_replies[f"user{i}@example.org"] = ["drop"] * 10
    config = project(tmp_path, server.port, concurrency=1)
    report = send(config, built, write_csv(config.root, 20))
    assert report.stopped and "3 connection failures in a row" in report.stopped and not report.fatal
    assert report.sent == 0 and server.handler.messages == []
    assert len(server.handler.data_replies["user0@example.org"]) >= 7  # not tried over and over
    assert sum(10 - len(server.handler.data_replies[f"user{i}@example.org"]) for i in range(20)) == 3


def test_slow_server_uses_the_whole_pool(tmp_path: Path, server: SmtpServer, built: BuildResult) -> None:
    server.handler.data_delay = 0.1
    config = project(tmp_path, server.port, concurrency=4)
    report = send(config, built, write_csv(config.root, 12))
    assert report.sent == 12 and server.max_active == 4


def test_server_silent_past_the_timeout(tmp_path: Path, server: SmtpServer, built: BuildResult) -> None:
    server.handler.data_replies["user0@example.org"] = ["stall"]
    config = project(tmp_path, server.port, timeout=0.5)
    report = send(config, built, write_csv(config.root, 2))
    assert report.complete and server.handler.counts() == {"user0@example.org": 1, "user1@example.org": 1}
    assert report.possible_duplicates == 1  # the stalled server might have kept it: said so


def test_server_down_stops_cleanly_then_resume_completes(tmp_path: Path, built: BuildResult) -> None:
    port = free_port()
    config = project(tmp_path, port)
    csv = write_csv(config.root, 5)
    report = send(config, built, csv)
    # refused before any connection succeeded: a configuration error, stopped at once, resumable
    assert not report.complete and report.fatal
    assert (report.stopped or "").startswith(f"smtp.port: 127.0.0.1 refused the connection on port {port}")
    assert report.sent == 0 and set(states(config).values()) == {"pending"}
    with SmtpServer(port=port) as server:
        again = send(config, built, csv)
    assert again.complete and again.sent == 5 and again.possible_duplicates == 0
    assert server.handler.counts() == {f"user{i}@example.org": 1 for i in range(5)}


def test_rate_limit_spaces_messages(tmp_path: Path, server: SmtpServer, built: BuildResult) -> None:
    config = project(tmp_path, server.port, rate=20, concurrency=4)
    report = send(config, built, write_csv(config.root, 11))
    assert report.sent == 11
    assert report.elapsed >= 10 / 20 * 0.9  # 11 messages at 20/s take at least half a second


def test_rate_limiter_halves_on_throttling_and_recovers() -> None:
    clock = [100.0]
    limiter = RateLimiter(10.0, clock=lambda: clock[0])
    limiter.slow_down("421 from the server")
    limiter.slow_down("421 from the server")  # a burst of throttling replies counts once
    assert limiter.rate == 5.0
    for _ in range(60):
        limiter.succeeded()  # successes alone do not recover the pace: clean seconds do
    assert limiter.rate == 5.0
    clock[0] += 10.0
    limiter.succeeded()
    assert limiter.rate == 10.0
    unpaced = RateLimiter(None)
    assert asyncio.run(unpaced.wait(asyncio.Event()))
    unpaced.slow_down("rate limit")
    assert unpaced.rate is not None


def test_plain_smtp_to_a_remote_host_is_refused_before_connecting() -> None:
    remote = Transport(host="smtp.example.org", port=25, security="none")
    with pytest.raises(SendError, match="refusing to send over plain SMTP to smtp.example.org"):
        check_transport(remote)
    check_transport(Transport(host="smtp.example.org", port=25, security="none", allow_insecure=True))
    with pytest.raises(SendError, match="refusing to log in to smtp.example.org over an unencrypted"):
        check_transport(Transport(host="smtp.example.org", port=25, security="none", allow_insecure=True,
                                  username="digest"))
    check_transport(Transport(host="127.0.0.1", port=25, security="none", username="digest"))


def test_auth_without_a_password_is_a_config_error(tmp_path: Path, built: BuildResult,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_SMTP_PASSWORD", raising=False)
    config = project(tmp_path, 587, host="smtp.example.org", security="starttls", username="digest")
    with pytest.raises(ConfigError, match="no SMTP password for digest"):
        plan_send(config, built, write_csv(config.root, 1))


def test_real_smtp_without_a_token_secret_makes_one(tmp_path: Path, built: BuildResult,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_TOKEN_SECRET")
    config = project(tmp_path, 2525)
    plan_send(config, built, write_csv(config.root, 1))
    assert (config.root / ".newsletter-secret").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_and_auth_with_the_password_from_the_environment(tmp_path: Path, built: BuildResult,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             security: str) -> None:
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "s3cret")
    context = self_signed_tls(tmp_path)
    with SmtpServer(tls_context=context, implicit_tls=security == "tls", users={"digest": "s3cret"}) as server:
        config = project(tmp_path, server.port, security=security, username="digest",
                         password_env="DIGEST_SMTP_PASSWORD")
        report = send(config, built, write_csv(config.root, 3))
    assert report.sent == 3, report.stopped
    assert server.handler.logins and all(over_tls for _, over_tls in server.handler.logins)


def test_wrong_password_stops_the_run_as_a_configuration_error(tmp_path: Path, built: BuildResult,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "wrong")
    with SmtpServer(tls_context=self_signed_tls(tmp_path), users={"digest": "s3cret"}) as server:
        config = project(tmp_path, server.port, security="starttls", username="digest",
                         password_env="DIGEST_SMTP_PASSWORD")
        report = send(config, built, write_csv(config.root, 3))
    assert report.fatal and "refused the login for digest: 535" in (report.stopped or "")
    assert "wrong" not in (report.stopped or "")
    assert set(states(config).values()) == {"pending"}


def test_config_keys_for_retries_and_ca_file(tmp_path: Path) -> None:
    config = make_project(tmp_path / "c", smtp={"host": "smtp.example.org", "retries": 2, "retry_delay": 0.5,
                                                "ca_file": "relay-ca.pem"})
    assert config.smtp is not None
    assert (config.smtp.retries, config.smtp.retry_delay) == (2, 0.5)
    assert config.smtp.ca_file == (tmp_path / "c" / "relay-ca.pem").resolve()
    assert load_config(config.path).smtp == config.smtp
