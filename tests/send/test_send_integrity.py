"""Send integrity (issue 13): greylisting cannot stall a send, opt-outs made mid-run count at once.

Against the in-process fault-injecting SMTP server: who received how many messages, what
the journal says about each recipient, and what the report tells the officer.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient
from support.sendkit import SECRET, make_project, plan_send, rows, send, smtp_block, write_csv
from support.smtpserver import FaultyHandler, SmtpServer

from newsletter import journal
from newsletter.cli import main
from newsletter.config import Config
from newsletter.daterange import parse_range
from newsletter.deliver import RateLimiter
from newsletter.issue import BuildResult, build_issue
from newsletter.send.report import SendReport
from newsletter.send.run import send_issue
from newsletter.site import create_app
from newsletter.tokens import make_token

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.usefixtures("token_secret")]

GREYLISTED = "451 4.7.1 Greylisted, please try again later"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    config = make_project(tmp_path_factory.mktemp("build") / "digest")
    return build_issue(config, parse_range("2023-07", None, None))


def send_reporting(config: Config, built: BuildResult, csv: Path) -> tuple[SendReport, list[str]]:
    """A send, with the events the officer would see printed during it."""
    events: list[str] = []
    report = send_issue(plan_send(config, built, csv), handle_signals=False, on_event=events.append)
    return report, events


# --- 1. pace and deferral ------------------------------------------------------------------

def test_30_percent_greylisted_rcpts_deliver_everyone_in_one_run_at_full_pace(
        tmp_path: Path, server: SmtpServer, built: BuildResult) -> None:
    greylisted = {f"user{i}@example.org" for i in range(60) if i % 10 in (1, 4, 7)}
    for address in greylisted:
        server.handler.rcpt_replies[address] = [GREYLISTED]
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port, rate=500, retry_delay=0.05))
    report, events = send_reporting(config, built, write_csv(config.root, 60))
    assert report.complete and report.sent == 60 and report.deferred == 0
    assert server.handler.counts() == {f"user{i}@example.org": 1 for i in range(60)}
    assert report.recipient_deferrals == len(greylisted) == 18
    assert not report.slowdowns and report.lowest_rate is None  # the pace was never lowered
    assert not [e for e in events if "slow down" in e]
    assert {email: r.attempts for email, r in rows(config).items() if r.attempts > 1} == dict.fromkeys(greylisted, 2)


def test_a_full_mailbox_saying_too_many_is_not_a_rate_limit(tmp_path: Path, server: SmtpServer,
                                                             built: BuildResult) -> None:
    server.handler.rcpt_replies["user1@example.org"] = ["452 4.2.2 mailbox full: too many messages"]
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port, rate=500))
    report, _ = send_reporting(config, built, write_csv(config.root, 4))
    assert report.complete and report.sent == 4 and not report.slowdowns


def test_421_and_454_storm_slows_the_pace_then_everyone_is_delivered(tmp_path: Path, server: SmtpServer,
                                                                      built: BuildResult) -> None:
    server.handler.all_rcpt_replies = ["454 4.7.0 too many messages, slow down",
                                       "421 4.7.0 rate limit exceeded, closing connection"] * 3
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port, rate=200, retries=8))
    report, events = send_reporting(config, built, write_csv(config.root, 20))
    assert report.complete and report.sent == 20
    assert server.handler.counts() == {f"user{i}@example.org": 1 for i in range(20)}
    assert report.slowdowns and set(report.slowdowns) <= {"454 from the server", "421 from the server"}
    assert [e for e in events if "slow down" in e][0].endswith("pace now 100.0 msgs/s")
    assert report.lowest_rate is not None and report.lowest_rate >= 1.0


def test_4xx_to_mail_from_for_many_recipients_slows_the_pool(tmp_path: Path, server: SmtpServer,
                                                             built: BuildResult) -> None:
    server.handler.mail_replies = ["451 4.3.0 try again later"] * 4
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port, rate=200, retries=8))
    report, _ = send_reporting(config, built, write_csv(config.root, 8))
    assert report.complete and report.sent == 8
    assert report.slowdowns == {"4xx to MAIL FROM for many recipients": 1}


def test_the_pace_falls_in_a_storm_and_climbs_back_with_clean_seconds() -> None:
    clock = [0.0]
    limiter = RateLimiter(40.0, clock=lambda: clock[0])
    for _ in range(8):  # a storm: a signal every second for 8 seconds
        clock[0] += 1.0
        limiter.slow_down("421 from the server")
    assert limiter.rate is not None and 1.0 <= limiter.rate < 10.0
    assert limiter.slowdowns == {"421 from the server": 8}
    clock[0] += 5.0
    limiter.succeeded()
    assert 20.0 < limiter.rate < 40.0  # climbing back a step per second ...
    clock[0] += 10.0
    limiter.succeeded()
    assert limiter.rate == 40.0  # ... to the configured rate, never above it


def test_the_pace_never_falls_below_one_message_a_second_unless_the_rate_is_lower() -> None:
    clock = [0.0]
    limiter = RateLimiter(None, clock=lambda: clock[0])
    slow = RateLimiter(0.5, clock=lambda: clock[0])
    for _ in range(30):
        clock[0] += 1.0
        limiter.slow_down("454 from the server")
        slow.slow_down("454 from the server")
    assert limiter.rate == 1.0 and slow.rate == 0.5


# --- 2. opt-outs during a run ---------------------------------------------------------------

class PausingHandler(FaultyHandler):
    """Holds every connection after `after` messages until the test has done its mid-run changes."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after
        self.reached = threading.Event()
        self.resume = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        reply = await super().handle_DATA(server, session, envelope)
        with self.lock:
            count = len(self.messages)
        if count >= self.after:  # every connection waits here: the send is held, not just one of them
            self.reached.set()
            while not self.resume.is_set():
                await asyncio.sleep(0.01)
        return reply


@pytest.fixture
def pausing() -> Iterator[SmtpServer]:
    with SmtpServer(PausingHandler(after=5)) as srv:
        yield srv


def send_in_background(config: Config, built: BuildResult, csv: Path) -> tuple[threading.Thread, list[SendReport]]:
    reports: list[SendReport] = []
    thread = threading.Thread(target=lambda: reports.append(send(config, built, csv)), daemon=True)
    thread.start()
    return thread, reports


@pytest.mark.usefixtures("backend")
def test_one_click_unsubscribes_during_a_send_stop_those_messages(tmp_path: Path, pausing: SmtpServer,
                                                                  built: BuildResult) -> None:
    handler = pausing.handler
    assert isinstance(handler, PausingHandler)
    config = make_project(tmp_path / "digest", smtp=smtp_block(pausing.port))
    thread, reports = send_in_background(config, built, write_csv(config.root, 40))
    assert handler.reached.wait(30)
    site = TestClient(create_app(config))
    leaving = [f"user{i}@example.org" for i in range(20, 40, 2)]
    for address in leaving:
        answer = site.post(f"/unsubscribe?t={make_token(SECRET.encode(), config.list_id, address)}",
                           data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
        assert answer.status_code == 200
    handler.resume.set()
    thread.join(60)
    [report] = reports
    received = handler.counts()
    assert not set(leaving) & set(received)  # not one of them was mailed later in the run
    assert len(received) == 30 and set(received.values()) == {1}
    assert report.unsubscribed_during_run == 10 and report.complete
    assert {rows(config)[a].reply for a in leaving} == {"unsubscribed during the run (unsubscribed)"}


@pytest.mark.usefixtures("backend")
def test_suppress_import_during_a_send_stops_those_messages(tmp_path: Path, pausing: SmtpServer,
                                                            built: BuildResult) -> None:
    handler = pausing.handler
    assert isinstance(handler, PausingHandler)
    config = make_project(tmp_path / "digest", smtp=smtp_block(pausing.port))
    thread, reports = send_in_background(config, built, write_csv(config.root, 30))
    assert handler.reached.wait(30)
    crm = tmp_path / "crm-optouts.csv"
    crm.write_text("email\nUSER12@example.org\nuser29@example.org\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["suppress", "import", str(crm), "--config", str(config.path)])
    assert result.exit_code == 0, result.output
    handler.resume.set()
    thread.join(60)
    [report] = reports
    received = handler.counts()
    assert "user12@example.org" not in received and "user29@example.org" not in received
    assert len(received) == 28 and report.unsubscribed_during_run == 2
    assert rows(config)["user12@example.org"].state == "skipped"


@pytest.mark.usefixtures("backend")
def test_a_hard_bounce_recorded_mid_run_skips_a_waiting_retry(tmp_path: Path, server: SmtpServer,
                                                              built: BuildResult) -> None:
    """A recipient waiting for its retry is checked again when claimed for it."""
    server.handler.rcpt_replies["user1@example.org"] = [GREYLISTED]
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port, retry_delay=0.5))
    csv = write_csv(config.root, 3)
    plan = plan_send(config, built, csv)

    def on_result(state: str) -> None:
        if state == "deferred":
            db = journal.connect(config.state)
            journal.suppress(db, "user1@example.org", "hard-bounce", "bounce:5.1.1")
            db.close()

    report = send_issue(plan, handle_signals=False, on_result=on_result)
    assert "user1@example.org" not in server.handler.counts()
    assert report.unsubscribed_during_run == 1 and report.complete
    assert rows(config)["user1@example.org"].reply == "unsubscribed during the run (hard-bounce)"


def test_an_unsubscribe_mid_run_with_one_connection_does_not_end_the_run(tmp_path: Path, server: SmtpServer,
                                                                          built: BuildResult) -> None:
    """concurrency 1 claims one recipient at a time: a claim that comes back skipped must not stop it."""
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port, concurrency=1))
    plan = plan_send(config, built, write_csv(config.root, 20))
    leaving = {"user3@example.org", "user4@example.org", "user9@example.org"}
    sent = []

    def on_result(state: str) -> None:
        sent.append(state)
        if sent.count("sent") == 2:  # user0 and user1 went; the next three claims come back skipped
            db = journal.connect(config.state)
            for address in leaving:
                journal.suppress(db, address, "unsubscribed", "one-click")
            db.close()

    report = send_issue(plan, handle_signals=False, on_result=on_result)
    assert report.complete and not report.stopped and report.remaining == 0
    assert set(server.handler.counts()) == {f"user{i}@example.org" for i in range(20)} - leaving
    assert report.sent == 17 and report.unsubscribed_during_run == 3
