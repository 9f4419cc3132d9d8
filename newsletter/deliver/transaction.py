"""One SMTP transaction for one job, and what the server's replies to it mean.

`transact(smtp, job, transport)` runs MAIL, RCPT and DATA on an open connection and
turns the replies into a `Result`:
- 250 after the message: `sent`. Nothing else is ever reported as sent.
- 4xx (421, 450, 451, 452, 454 ...): `deferred`, with `retry_in` seconds (exponential
  backoff) until `retries` attempts are used up. `pace_signal` says whether the reply is
  about the sender or the connection (slow the whole pool down) or about this recipient
  only (greylisting, a full mailbox: only this recipient waits).
- 5xx to RCPT, or an enhanced 5.1.x code anywhere: `failed`, `hard_bounce` for 550, 551,
  553 and 5.1.x. Other 5xx after the message (content refused): `failed`, no bounce.
- 5xx to MAIL FROM: the configuration is wrong for every recipient alike, so it raises
  `Fatal` and the pool stops the run instead of failing everyone.
- A connection lost before the message went raises `ConnectionFailed` (the pool retries
  the job on a new connection); lost during the message: `deferred` and `uncertain`
  (the server may have taken it).

When the server offers PIPELINING (RFC 2920), MAIL, RCPT and DATA go in one write and
their replies are read in order (replies.py); each reply keeps the meaning above, so a
distant relay costs two round trips per message instead of four. Without it, one command
at a time, as before.

Every reply must be the one its command can get, one each and nothing left over;
otherwise the connection is out of step and closed, and the job retried (`uncertain`
if its body went): no outcome is ever taken from somebody else's reply.

Each transaction is written straight to the connection (replies.py reads) rather
than with aiosmtplib's `sendmail`: our addresses are validated and our messages are CRLF-canonical by
construction (issue/compose.py), so `sendmail`'s address parsing and its two regex passes over
every body are not needed; dot-stuffing is a `bytes.replace` when a line starts with a
dot. On a 60 KB message this more than triples throughput (see bench/README.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import aiosmtplib

from newsletter.deliver.connection import ConnectionFailed, Fatal, Transport, one_line
from newsletter.deliver.replies import ConnectionLost, ExchangeReplies, Reply
from newsletter.journal import DeliveryStatus

__all__ = ["HARD_BOUNCE_CODES", "Job", "Result", "pace_signal", "transact"]

HARD_BOUNCE_CODES = frozenset({550, 551, 553})
_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")
_RATE_WORDING = re.compile(r"rate|throttl|too many|slow down", re.IGNORECASE)


@dataclass
class Job:
    """One message for one recipient. `key` is the caller's handle (the journal's address key)."""

    key: str
    sender: str  # MAIL FROM
    recipient: str  # RCPT TO
    message: bytes  # CRLF line ends only (compose.fill builds it so): the pool does not normalise
    attempts: int = 1  # including the one about to be made
    stuffed: bool = False  # lines starting with "." already doubled for SMTP (send/messages.py does it ahead)
    head: bytes = b""  # header lines that go before `message` as they are (a DKIM-Signature): CRLF, never a "."


@dataclass(frozen=True)
class Result:
    """What happened to a job; `status` is sent, deferred, failed or unsent (never tried)."""

    job: Job
    status: DeliveryStatus
    code: int = 0
    reply: str = ""
    retry_in: float | None = None  # deferred: try again after this many seconds; None = not in this run
    hard_bounce: bool = False
    uncertain: bool = False  # the connection broke after the message went: may have been delivered
    stage: str = ""  # the command the server refused: mail, rcpt or data

    @property
    def summary(self) -> str:
        return f"{self.code} {self.reply}".strip() if self.code else self.reply


def _is_hard_bounce(code: int, message: str, *, at_rcpt: bool) -> bool:
    enhanced = _ENHANCED.match(message)
    if enhanced and enhanced.group(1) == "5":
        return enhanced.group(2) == "1"
    return at_rcpt and code in HARD_BOUNCE_CODES


def pace_signal(result: Result) -> str | None:
    """Why a 4xx should slow the whole pool, or None when it concerns this recipient only.

    421 (closing) and 454 (temporary failure) are about the connection; "rate", "throttl",
    "too many", "slow down" wording is about the sender, unless an enhanced code 4.1.x or
    4.2.x names the mailbox (a full mailbox says "too many messages" too) or 4.5.x the
    protocol (`452 4.5.3 too many recipients` is about one message's envelope, not a pace). Greylisting
    (450/451/452 at RCPT, 4.7.1) and any other RCPT-stage 4xx defer only that recipient.
    A 4xx to MAIL FROM or DATA is returned as "mail"/"data": one alone means little, many
    from different recipients at once mean the sender (the pool counts them).
    """
    if not 400 <= result.code < 500:
        return None
    if result.code in (421, 454):
        return f"{result.code} from the server"
    enhanced = _ENHANCED.match(result.reply)
    if enhanced and enhanced.group(2) in ("1", "2", "5"):
        return None
    if _RATE_WORDING.search(result.reply):
        return "rate limit"
    return result.stage if result.stage in ("mail", "data") else None


def _retry_in(transport: Transport, job: Job) -> float | None:
    """Seconds until a deferred job is tried again; None once its attempts are used up."""
    if job.attempts >= transport.retries:
        return None
    return transport.backoff(job.attempts)


def _refused(transport: Transport, job: Job, code: int, message: str, *, at_rcpt: bool,
             stage: str = "data") -> Result:
    message = one_line(message)
    stage = "rcpt" if at_rcpt else stage
    if 400 <= code < 500:
        return Result(job, DeliveryStatus.DEFERRED, code, message, retry_in=_retry_in(transport, job), stage=stage)
    return Result(job, DeliveryStatus.FAILED, code, message, hard_bounce=_is_hard_bounce(code, message, at_rcpt=at_rcpt))


class _OutOfStep(Exception):
    """A reply that cannot be this command's: the server and we no longer agree on which is which."""


def _verdict(reply: Reply, ok: tuple[int, ...], command: str) -> bool:
    """True for a reply in `ok`, False for a refusal (4xx, 5xx); anything else is out of step.

    A 1xx, a 3xx or a 2xx the command cannot get (250 to DATA, 354 to RCPT) is a reply to
    some other command: acting on it would record somebody else's outcome."""
    if reply.code in ok:
        return True
    if 400 <= reply.code < 600:
        return False
    raise _OutOfStep(f"{reply.code} {one_line(reply.message)} in reply to {command}")


def _stale(smtp: aiosmtplib.SMTP) -> str:
    """Bytes aiosmtplib holds unread from the session's setup (a second greeting, an extra EHLO line)."""
    buffer = getattr(smtp.protocol, "_buffer", b"")
    return bytes(buffer[:120]).decode("utf-8", "replace").strip()


async def transact(smtp: aiosmtplib.SMTP, job: Job, transport: Transport) -> Result:
    """MAIL, RCPT, DATA for one job, written straight to the connection, every reply matched.

    `sendmail()` would parse both addresses with `email.utils` and make two regex passes
    over the body; the job's addresses are validated plain addr-specs and its message is
    CRLF-canonical (the `Job` contract), so only dot-stuffing is left, when needed.
    When the server offers PIPELINING, MAIL, RCPT and DATA go in one write.

    Every reply must belong to the command it answers: one reply each, of a code that
    command can get, nothing left over when the exchange ends. Otherwise the server and we
    are out of step, and no reply in this exchange can be trusted: the connection is
    closed, and the job is retried (`ConnectionFailed`), or, if its body went, `deferred`
    and `uncertain`; never `sent` or `failed` on a reply that may be somebody else's.
    """
    t = transport
    message = job.message
    if not job.stuffed and b"\r\n." in message:
        message = message.replace(b"\r\n.", b"\r\n..")
    if not job.stuffed and message.startswith(b"."):
        message = b"." + message
    size = [f"SIZE={len(job.head) + len(message)}".encode("ascii")] if smtp.supports_extension("size") else []
    try:
        sender, recipient = _addr(job.sender), _addr(job.recipient)
    except ValueError as exc:
        return Result(job, DeliveryStatus.FAILED, reply=str(exc))
    protocol = smtp.protocol
    connection = protocol.transport if protocol is not None else None
    if protocol is None or connection is None or connection.is_closing():
        raise ConnectionFailed("Connection lost")
    stale = _stale(smtp)
    if stale:
        smtp.close()
        raise ConnectionFailed(f"protocol error: the server sent {stale!r}, which no command asked for")
    replies = ExchangeReplies(connection, protocol)  # type: ignore[arg-type]
    commands = [b" ".join([b"MAIL FROM:<" + sender + b">", *size]), b"RCPT TO:<" + recipient + b">", b"DATA"]
    body_went = False
    try:
        refused = await _envelope(replies, commands, t, pipelined=smtp.supports_extension("pipelining"))
        if refused is None:
            body_went = True
            replies.write(b"".join((job.head, message, b".\r\n")))  # one copy, however many parts
            reply = await replies.read(t.data_timeout, "reply to the message")
            accepted = _verdict(reply, (250,), "the message")
            extra = await replies.leftover()
            if extra.startswith("421") and accepted:  # a server may announce its closing at any time
                smtp.close()
            elif extra:
                raise _OutOfStep(f"{extra!r} after the reply to the message")
            if accepted:
                return Result(job, DeliveryStatus.SENT, 250, one_line(reply.message))
            refused = (2, reply)
        step, reply = refused
        if reply.code != 421:
            await _reset(replies, t)
    except ConnectionLost as exc:
        smtp.close()
        if body_went:
            return Result(job, DeliveryStatus.DEFERRED, reply=f"connection lost during the message: {one_line(str(exc))}",
                          retry_in=_retry_in(t, job), uncertain=True)
        raise ConnectionFailed(f"{t.label} stopped answering: {one_line(str(exc))}" if exc.timed_out
                               else one_line(str(exc)), setting="smtp.host" if exc.timed_out else None) from exc
    except _OutOfStep as exc:
        smtp.close()
        if body_went:
            return Result(job, DeliveryStatus.DEFERRED, reply=f"protocol error after the message: {exc}",
                          retry_in=_retry_in(t, job), uncertain=True)
        raise ConnectionFailed(f"protocol error: {exc}") from exc
    finally:
        replies.release()
    if reply.code == 421:
        smtp.close()
    if step == 0 and not 400 <= reply.code < 500:
        raise Fatal(f"{t.host} refused the sender {job.sender}: {reply.code} {one_line(reply.message)}")
    return _refused(t, job, reply.code, reply.message, at_rcpt=step == 1, stage=("mail", "rcpt", "data")[step])


_EXPECTED = ((250,), (250, 251), (354,))
_NAMES = ("MAIL FROM", "RCPT TO", "DATA")


async def _envelope(replies: ExchangeReplies, commands: list[bytes], t: Transport, *,
                    pipelined: bool) -> tuple[int, Reply] | None:
    """MAIL, RCPT, DATA and their replies; None when DATA got its 354, else (step, first refusal).

    Pipelined (RFC 2920), all three go in one write and every reply is read, also after a
    refusal: the commands behind it must then be refused too (a 503), except that DATA may
    still get a 354, which an empty message ends. A 421 means the server is closing:
    nothing more is read. Unpipelined, a refusal ends the envelope there.
    """
    if pipelined:
        replies.write(b"".join(command + b"\r\n" for command in commands))
    refused: tuple[int, Reply] | None = None
    for step, command in enumerate(commands):
        if not pipelined:
            replies.write(command + b"\r\n")
        reply = await replies.read(t.timeout, f"reply to {_NAMES[step]}")
        if refused is None:
            if not _verdict(reply, _EXPECTED[step], _NAMES[step]):
                refused = (step, reply)
                if reply.code == 421 or not pipelined:
                    return refused
            continue
        if reply.code == 421:
            return refused
        if step == 2 and reply.code == 354:  # DATA accepted after a refusal: end the empty message
            replies.write(b".\r\n")
            reply = await replies.read(t.data_timeout, "reply to an empty message")
            _verdict(reply, (250,), "an empty message")
        else:
            _verdict(reply, (), _NAMES[step])  # behind a refusal, only a refusal is in step
    return refused


def _addr(address: str) -> bytes:
    """A validated addr-spec as SMTP path bytes; anything else would corrupt the command."""
    if not address.isascii() or any(c in address for c in "<> \t\r\n"):
        raise ValueError(f"not a plain address: {address!r}")
    return address.encode("ascii")


async def _reset(replies: ExchangeReplies, t: Transport) -> None:
    """RSET after a refusal, so the connection can carry the next job; its reply must be a 250."""
    replies.write(b"RSET\r\n")
    reply = await replies.read(t.timeout, "reply to RSET")
    if reply.code != 250:
        raise _OutOfStep(f"{reply.code} {one_line(reply.message)} in reply to RSET")
    extra = await replies.leftover()
    if extra:
        raise _OutOfStep(f"{extra!r} after the reply to RSET")
