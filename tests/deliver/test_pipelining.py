"""Pipelining (RFC 2920): MAIL, RCPT and DATA in one write when the server offers it.

Each fault the pool tests inject (421 at connect, 451 and 550 at RCPT, 5xx after the
message, a connection dropped mid-body, a sender refused) is run twice, against the same
aiosmtpd server with and without PIPELINING in its EHLO, and must leave the same journal,
the same report and the same mail behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.sendkit import make_project, rows, send, smtp_block, write_csv
from support.smtpserver import FaultyHandler, SmtpServer

from newsletter.daterange import parse_range
from newsletter.deliver.replies import ConnectionLost, ExchangeReplies, Reply, parse_replies
from newsletter.issue import BuildResult, build_issue

pytestmark = pytest.mark.usefixtures("token_secret")  # the secret a real send has


class PipeliningHandler(FaultyHandler):
    """A FaultyHandler whose server offers PIPELINING, noting whether clients really pipeline."""

    def __init__(self) -> None:
        super().__init__()
        self.pipelined: list[bool] = []  # per MAIL: were RCPT and DATA already waiting behind it?

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        waiting = bytes(server._reader._buffer)  # what the client sent after MAIL, in the same write
        self.pipelined.append(b"RCPT TO:" in waiting and b"DATA\r\n" in waiting)
        return await super().handle_MAIL(server, session, envelope, address, options)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    config = make_project(tmp_path_factory.mktemp("build") / "digest")
    return build_issue(config, parse_range("2023-07", None, None))


Setup = Callable[[FaultyHandler], None]


def _rcpt(address: str, *replies: str) -> Setup:
    return lambda h: h.rcpt_replies[address].extend(replies)


def _data(address: str, *replies: str) -> Setup:
    return lambda h: h.data_replies[address].extend(replies)


def _mail(*replies: str) -> Setup:
    return lambda h: h.mail_replies.extend(replies)


SCENARIOS: dict[str, tuple[Setup | None, int, dict[str, Any], int]] = {
    # name: (fault, recipients, smtp overrides, connections answered 421 at the greeting)
    "clean": (None, 8, {"concurrency": 3}, 0),
    "421 at connect": (None, 6, {}, 2),
    "451 at RCPT, then accepted": (_rcpt("user1@example.org", "451 4.3.0 greylisted, try again"), 3,
                                   {"rate": 1000}, 0),
    "450 at RCPT until retries run out": (_rcpt("user0@example.org", *["450 4.2.1 mailbox busy"] * 3), 2,
                                          {"rate": 1000}, 0),
    "550 at RCPT: a hard bounce": (_rcpt("user2@example.org", "550 5.1.1 no such user"), 4, {}, 0),
    "554 after the message": (_data("user0@example.org", "554 5.7.1 message refused as spam"), 2, {}, 0),
    "dropped mid-body": (_data("user1@example.org", "drop"), 4, {}, 0),
    "dropped after the server kept it": (_data("user1@example.org", "accept-drop"), 3, {}, 0),
    "451 to MAIL": (_mail("451 4.3.2 system not accepting messages"), 3, {"rate": 1000}, 0),
    "sender refused": (_mail(*["553 5.7.1 sender not owned by user"] * 50), 5, {}, 0),
}


def _outcome(tmp_path: Path, built: BuildResult, handler: FaultyHandler, scenario: str) -> dict[str, Any]:
    setup, count, overrides, busy = SCENARIOS[scenario]
    if setup is not None:
        setup(handler)
    with SmtpServer(handler, busy_connections=busy) as server:
        config = make_project(tmp_path / "digest", smtp=smtp_block(server.port, **overrides))
        report = send(config, built, write_csv(config.root, count))
    journal = {email: (row.state, row.reply, row.attempts, row.possible_duplicate)
               for email, row in rows(config).items()}
    return {"journal": journal, "mail": handler.counts(), "sent": report.sent, "failed": report.failed,
            "deferred": report.deferred, "suppressed": report.suppressed, "fatal": report.fatal,
            "duplicates": report.possible_duplicates, "complete": report.complete}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_pipelined_sends_leave_the_same_journal_as_unpipelined(tmp_path: Path, built: BuildResult,
                                                               scenario: str) -> None:
    plain = _outcome(tmp_path / "plain", built, FaultyHandler(), scenario)
    handler = PipeliningHandler()
    pipelined = _outcome(tmp_path / "pipelined", built, handler, scenario)
    assert pipelined == plain
    assert handler.pipelined and all(handler.pipelined)  # every transaction went in one write


def test_the_outcomes_are_the_ones_the_officer_expects(tmp_path: Path, built: BuildResult) -> None:
    """The comparison above is only worth something if the faults bite: spot-check them."""
    bounce = _outcome(tmp_path / "a", built, PipeliningHandler(), "550 at RCPT: a hard bounce")
    assert bounce["journal"]["user2@example.org"][:2] == ("failed", "550 5.1.1 no such user")
    assert bounce["suppressed"] == 1 and bounce["sent"] == 3
    grey = _outcome(tmp_path / "b", built, PipeliningHandler(), "451 at RCPT, then accepted")
    assert grey["journal"]["user1@example.org"][0::2] == ("sent", 2) and grey["mail"]["user1@example.org"] == 1
    kept = _outcome(tmp_path / "c", built, PipeliningHandler(), "dropped after the server kept it")
    assert kept["duplicates"] == 1 and kept["mail"]["user1@example.org"] == 2
    refused = _outcome(tmp_path / "d", built, PipeliningHandler(), "sender refused")
    assert refused["fatal"] and {state for state, *_ in refused["journal"].values()} == {"pending"}


def test_a_server_without_pipelining_gets_one_command_at_a_time(tmp_path: Path, built: BuildResult) -> None:
    handler = FaultyHandler()
    seen: list[bool] = []
    original = handler.handle_MAIL

    async def watch(server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        seen.append(b"RCPT" in bytes(server._reader._buffer))
        return await original(server, session, envelope, address, options)

    handler.handle_MAIL = watch  # type: ignore[method-assign]
    outcome = _outcome(tmp_path, built, handler, "clean")
    assert outcome["sent"] == 8 and seen and not any(seen)


def test_replies_are_split_in_order_however_they_arrive() -> None:
    buffer = bytearray(b"250 2.1.0 OK\r\n250-2.1.5 fine\r\n250 2.1.5 really\r\n354 go ahead\r\n45")
    assert parse_replies(buffer) == [Reply(250, "2.1.0 OK"), Reply(250, "2.1.5 fine\n2.1.5 really"),
                                     Reply(354, "go ahead")]
    assert buffer == bytearray(b"45")
    buffer += b"1 4.3.0 later\r\n"
    assert parse_replies(buffer) == [Reply(451, "4.3.0 later")] and buffer == bytearray()
    with pytest.raises(ValueError):
        parse_replies(bytearray(b"hello there\r\n"))


def test_replies_that_arrive_before_they_are_asked_for_are_kept() -> None:
    """What aiosmtplib cannot do: three replies in one packet, read one by one."""

    async def scenario() -> list[Reply | str]:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"DATA\r\n")
            writer.write(b"250 ok\r\n250 ok\r\n354 go\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        inner = asyncio.Protocol()
        transport, _ = await loop.create_connection(lambda: inner, "127.0.0.1", port)
        replies = ExchangeReplies(transport, inner)  # type: ignore[arg-type]
        replies.write(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n")
        got: list[Reply | str] = [await replies.read(2), await replies.read(2), await replies.read(2)]
        try:
            await replies.read(2)
        except ConnectionLost as exc:
            got.append(str(exc))
        server.close()
        return got

    got = asyncio.run(scenario())
    assert got[:3] == [Reply(250, "ok"), Reply(250, "ok"), Reply(354, "go")]
    assert "closed" in str(got[3])
