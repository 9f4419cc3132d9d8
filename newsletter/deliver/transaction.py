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

Each transaction is written with aiosmtplib's `execute_command` and its protocol rather
than `sendmail`: our addresses are validated and our messages are CRLF-canonical by
construction (issue/compose.py), so `sendmail`'s address parsing and its two regex passes over
every body are not needed; dot-stuffing is a `bytes.replace` when a line starts with a
dot. On a 60 KB message this more than triples throughput (see bench/README.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import aiosmtplib

from newsletter.deliver.connection import ConnectionFailed, Fatal, Transport, one_line
from newsletter.deliver.replies import ConnectionLost, PipelinedReplies, Reply
from newsletter.journal.states import DeliveryStatus

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
    4.2.x names the mailbox (a full mailbox says "too many messages" too). Greylisting
    (450/451/452 at RCPT, 4.7.1) and any other RCPT-stage 4xx defer only that recipient.
    A 4xx to MAIL FROM or DATA is returned as "mail"/"data": one alone means little, many
    from different recipients at once mean the sender (the pool counts them).
    """
    if not 400 <= result.code < 500:
        return None
    if result.code in (421, 454):
        return f"{result.code} from the server"
    enhanced = _ENHANCED.match(result.reply)
    if enhanced and enhanced.group(2) in ("1", "2"):
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


async def transact(smtp: aiosmtplib.SMTP, job: Job, transport: Transport) -> Result:
    """MAIL, RCPT, DATA for one job, written straight to aiosmtplib's protocol.

    `sendmail()` would parse both addresses with `email.utils` and make two regex passes
    over the body; the job's addresses are validated plain addr-specs and its message is
    CRLF-canonical (the `Job` contract), so only dot-stuffing is left, when needed.
    When the server offers PIPELINING, MAIL, RCPT and DATA go in one write (`_pipelined`).
    """
    t = transport
    message = job.message
    if not job.stuffed and b"\r\n." in message:
        message = message.replace(b"\r\n.", b"\r\n..")
    if not job.stuffed and message.startswith(b"."):
        message = b"." + message
    size = [f"SIZE={len(message)}".encode("ascii")] if smtp.supports_extension("size") else []
    try:
        sender, recipient = _addr(job.sender), _addr(job.recipient)
    except ValueError as exc:
        return Result(job, DeliveryStatus.FAILED, reply=str(exc))
    if smtp.supports_extension("pipelining"):
        return await _pipelined(smtp, job, t, b" ".join([b"MAIL FROM:<" + sender + b">", *size]),
                                b"RCPT TO:<" + recipient + b">", message)
    try:
        reply = await smtp.execute_command(b"MAIL", b"FROM:<" + sender + b">", *size)
        if reply.code != 250:
            await _reset(smtp)
            if 400 <= reply.code < 500:
                return _refused(t, job, reply.code, reply.message, at_rcpt=False, stage="mail")
            raise Fatal(f"{t.host} refused the sender {job.sender}: {reply.code} {one_line(reply.message)}")
        reply = await smtp.execute_command(b"RCPT", b"TO:<" + recipient + b">")
        if reply.code not in (250, 251):
            await _reset(smtp)
            return _refused(t, job, reply.code, reply.message, at_rcpt=True)
        reply = await smtp.execute_command(b"DATA")
        if reply.code != 354:
            await _reset(smtp)
            return _refused(t, job, reply.code, reply.message, at_rcpt=False)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
        raise ConnectionFailed(one_line(str(exc)) or type(exc).__name__) from exc
    except aiosmtplib.SMTPResponseException as exc:
        await _reset(smtp)
        return _refused(t, job, exc.code, exc.message, at_rcpt=False)
    return await _body(smtp, job, t, message)


async def _body(smtp: aiosmtplib.SMTP, job: Job, t: Transport, message: bytes) -> Result:
    """The message after 354, and its reply: from here a lost connection leaves it uncertain."""
    protocol = smtp.protocol
    if protocol is None:
        raise ConnectionFailed("Connection lost")
    try:
        protocol.write(message + b".\r\n")
        reply = await protocol.read_response(timeout=t.timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
        smtp.close()
        return Result(job, DeliveryStatus.DEFERRED, reply=f"connection lost during the message: {one_line(str(exc))}",
                      retry_in=_retry_in(t, job), uncertain=True)
    except aiosmtplib.SMTPResponseException as exc:
        await _reset(smtp)
        return _refused(t, job, exc.code, exc.message, at_rcpt=False)
    if reply.code == 250:
        return Result(job, DeliveryStatus.SENT, 250, one_line(reply.message))
    return _refused(t, job, reply.code, reply.message, at_rcpt=False)


async def _pipelined(smtp: aiosmtplib.SMTP, job: Job, t: Transport, mail: bytes, rcpt: bytes,
                     message: bytes) -> Result:
    """RFC 2920: MAIL, RCPT and DATA in one write, their replies read in order.

    Each reply means what it means unpipelined; after a refusal the replies to the
    commands behind it (the server's 503 "no valid recipients") are read and ignored, a
    354 that comes anyway gets an empty message, and RSET readies the connection for the
    next job. A 421 means the server is closing: nothing more is read. Only after 354 does
    the body go, exactly as unpipelined (`_body`).
    """
    protocol = smtp.protocol
    transport = protocol.transport if protocol is not None else None
    if protocol is None or transport is None or transport.is_closing():
        raise ConnectionFailed("Connection lost")
    replies = PipelinedReplies(transport, protocol)  # type: ignore[arg-type]
    got: list[Reply] = []
    lost: ConnectionLost | None = None
    try:
        replies.write(mail + b"\r\n" + rcpt + b"\r\nDATA\r\n")
        while len(got) < 3 and (not got or got[-1].code != 421):
            got.append(await replies.read(t.timeout))
        if len(got) == 3 and got[2].code == 354 and (got[0].code != 250 or got[1].code not in (250, 251)):
            replies.write(b".\r\n")  # DATA accepted after a refusal: end the empty message
            await replies.read(t.timeout)
    except ConnectionLost as exc:
        lost = exc
    finally:
        replies.release()
    expected = (250, (250, 251), 354)
    for step, reply in enumerate(got):
        ok = expected[step]
        if reply.code == ok or isinstance(ok, tuple) and reply.code in ok:
            continue
        if lost is not None or reply.code == 421:
            smtp.close()
        else:
            await _reset(smtp)
        if step == 0 and not 400 <= reply.code < 500:
            raise Fatal(f"{t.host} refused the sender {job.sender}: {reply.code} {one_line(reply.message)}")
        return _refused(t, job, reply.code, reply.message, at_rcpt=step == 1)
    if lost is not None:
        smtp.close()
        raise ConnectionFailed(one_line(str(lost))) from lost
    return await _body(smtp, job, t, message)


def _addr(address: str) -> bytes:
    """A validated addr-spec as SMTP path bytes; anything else would corrupt the command."""
    if not address.isascii() or any(c in address for c in "<> \t\r\n"):
        raise ValueError(f"not a plain address: {address!r}")
    return address.encode("ascii")


async def _reset(smtp: aiosmtplib.SMTP) -> None:
    """RSET after a refusal, so the connection can carry the next job; close it if that fails too."""
    try:
        await smtp.rset()
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()
