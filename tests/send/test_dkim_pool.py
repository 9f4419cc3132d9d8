"""DKIM off the event loop: the same signatures as dkimpy, from worker processes that may die.

The run signs in two halves (the body hash prepared once per template and the header
hash in the loop, the RSA step in worker processes); these tests check that what comes
out is byte for byte what dkimpy's own `dkim.sign` makes, verifies with dkimpy, and that
killing a worker loses nothing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils
from support.sendkit import make_project, send, smtp_block, write_csv
from support.smtpserver import FaultyHandler, SmtpServer

from newsletter.audience import Subscriber
from newsletter.daterange import parse_range
from newsletter.issue import build_issue
from newsletter.send.dkim import DkimSigner, generate_key, public_key_record
from newsletter.send.messages import Composer, TemplateCache, unsubscribe_keys
from newsletter.send.signpool import SigningPool
from newsletter.send.signworker import sign_digest

pytestmark = pytest.mark.usefixtures("token_secret")  # the secret a real send has

SELECTOR, DOMAIN = "nl2023", "example.org"
NOW = 1_700_000_000
DOTTED = """- title: Dots at the start of lines
  date: 2023-07-12
  source: Test source
  theme: Neglect
  summary: |
    A summary whose lines start with dots.

    .hidden in SMTP unless doubled

    . and a lone dot line:

    .

    Ünïcödé text — “quotes”, 日本語 and trailing spaces<SP>
  links:
    - label: Read the report
      title: Dotted report
      url: https://example.org/dotted
""".replace("<SP>", "   ")
PEOPLE = [("plain@example.org", "Plain Reader"), ("zoe@example.org", "Zoë Ångström-Łukasiewicz"),
          ("long@example.org", "A Very " + "Long " * 60 + "Name"), (".dot@example.org", ".Dot Leading"),
          ("tab@example.org", "Tab\tand  double  spaces")]


@pytest.fixture(scope="module")
def key() -> Any:
    return generate_key()


def dns_for(key: Any):
    record = public_key_record(key).encode()
    return lambda name, timeout=5: record if name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode() else None


@pytest.fixture(scope="module")
def composer(tmp_path_factory: pytest.TempPathFactory, key: Any) -> Composer:
    config = make_project(tmp_path_factory.mktemp("dkim") / "digest")
    (config.root / "items" / "dotted.yaml").write_text(DOTTED, encoding="utf-8")
    with pytest.MonkeyPatch.context() as env:  # module-wide: no secret may leak into other tests
        env.setenv("NEWSLETTER_TOKEN_SECRET", "test-token-secret")
        built = build_issue(config, parse_range("2023-07", None, None), write=False)
        keys = unsubscribe_keys(config)
    signer = DkimSigner(key, domain=DOMAIN, selector=SELECTOR, clock=lambda: NOW)
    return Composer(config, TemplateCache(built.rendered, config), keys, signer)


def unstuff(wire: bytes) -> bytes:
    return (wire[1:] if wire.startswith(b"..") else wire).replace(b"\r\n..", b"\r\n.")


def dkimpy_signed(message: bytes, pem: bytes, headers: list[bytes]) -> bytes:
    """dkimpy's own signature for `message`, made at NOW."""
    real = time.time
    time.time = lambda: float(NOW)  # dkimpy reads the clock itself; nothing else runs meanwhile
    try:
        return dkim.sign(message, SELECTOR.encode(), DOMAIN.encode(), pem, canonicalize=(b"relaxed", b"relaxed"),
                         include_headers=headers) + message
    finally:
        time.time = real


def signed_headers(signed: bytes) -> list[bytes]:
    sig = dkim.rfc822_parse(signed)[0][0][1]
    h = dict(dkim.util.parse_tag_value(sig))[b"h"]
    return [name.strip() for name in h.split(b":")]


@pytest.mark.parametrize("email,name", PEOPLE)
def test_signatures_are_byte_for_byte_dkimpys_and_verify(composer: Composer, key: Any, email: str,
                                                         name: str) -> None:
    subscriber = Subscriber(email, name)
    date = formatdate(NOW, usegmt=True)
    wire, stuffed = composer.wire(subscriber, "<m1@example.org>", date)
    assert stuffed
    message = unstuff(wire)
    assert b"\r\n..hidden" in wire and b"\r\n.hidden" in message and b"\r\n.\r\n" not in wire
    whole = composer.message(subscriber, "<m1@example.org>", date)
    assert message == whole  # the fast path (prepared body hash) and the whole-message path agree
    assert dkim.verify(message, dnsfunc=dns_for(key))
    unsigned = message[message.index(b"From:"):]
    pem = composer.signer.pem  # type: ignore[union-attr]
    assert message == dkimpy_signed(unsigned, pem, signed_headers(message))


def test_long_and_non_ascii_headers_are_folded_and_still_verify(composer: Composer, key: Any) -> None:
    long_name = PEOPLE[2]
    message = unstuff(composer.wire(Subscriber(*long_name), "<m2@example.org>", formatdate(NOW))[0])
    to_header = message[message.index(b"\r\nTo:") + 2:].split(b"\r\n\r\n")[0]
    assert max(len(line) for line in message.split(b"\r\n")) <= 998 and b"\r\n " in to_header
    assert dkim.verify(message, dnsfunc=dns_for(key))


def test_the_worker_pool_signs_what_the_loop_would(key: Any) -> None:
    digests = [bytes([n]) * 32 for n in range(40)]
    pool = SigningPool(DkimSigner(key, domain=DOMAIN, selector=SELECTOR).pem, workers=2)
    try:
        signatures = asyncio.run(pool.sign(digests))
    finally:
        pool.close()
    assert signatures == [sign_digest(key, d) for d in digests]  # PKCS#1 v1.5 is deterministic
    public = key.public_key()
    for digest, signature in zip(digests, signatures, strict=True):
        public.verify(signature, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


def test_a_worker_that_dies_is_replaced_and_its_batch_signed_again(key: Any) -> None:
    digests = [os.urandom(32) for _ in range(1500)]
    pool = SigningPool(DkimSigner(key, domain=DOMAIN, selector=SELECTOR).pem, workers=2)

    async def scenario() -> list[bytes]:
        signing = asyncio.ensure_future(pool.sign(digests))
        while len(pool.pids()) < 2:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        os.kill(pool.pids()[0], signal.SIGKILL)
        return await signing

    try:
        signatures = asyncio.run(scenario())
        assert pool.restarts == 1
        assert signatures == [sign_digest(key, d) for d in digests]
    finally:
        pool.close()


class KillsSigners(FaultyHandler):
    """Kills every DKIM worker process when the third message arrives."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if len(self.messages) == 2:
            for pid in _children(os.getpid()):
                os.kill(pid, signal.SIGKILL)
        return await super().handle_DATA(server, session, envelope)


def test_a_signed_send_survives_its_workers_being_killed(tmp_path: Path, key: Any) -> None:
    """End to end: every recipient gets one message, each verifies, though the signers died mid-run."""
    handler = KillsSigners()
    with SmtpServer(handler) as server:
        config = make_project(tmp_path / "digest", smtp=smtp_block(server.port, concurrency=2),
                              extra=f"dkim:\n  domain: {DOMAIN}\n  selector: {SELECTOR}\n  key_file: dkim.key\n")
        (config.root / "dkim.key").write_bytes(DkimSigner(key, domain=DOMAIN, selector=SELECTOR).pem)
        built = build_issue(config, parse_range("2023-07", None, None))
        report = send(config, built, write_csv(config.root, 40))
    assert report.sent == 40 and report.complete
    assert handler.counts() == {f"user{i}@example.org": 1 for i in range(40)}
    for _, content in handler.messages:
        assert content.startswith(b"DKIM-Signature:")
        assert dkim.verify(content, dnsfunc=dns_for(key))


def test_a_stopped_worker_is_noticed_killed_and_replaced(key: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGSTOP (or a hung worker) sends no EOF: only the batch's deadline can tell."""
    monkeypatch.setattr("newsletter.send.signpool.STUCK_AFTER", 0.5)
    digests = [os.urandom(32) for _ in range(40)]
    pool = SigningPool(DkimSigner(key, domain=DOMAIN, selector=SELECTOR).pem, workers=2)

    async def scenario() -> list[bytes]:
        await pool.sign(digests[:2])  # both workers up and answering
        stopped = pool.pids()[0]
        os.kill(stopped, signal.SIGSTOP)
        signatures = await pool.sign(digests)
        assert stopped not in pool.pids()
        return signatures

    try:
        assert asyncio.run(scenario()) == [sign_digest(key, d) for d in digests]
        assert pool.restarts == 1
    finally:
        pool.close()


def signed_project(tmp_path: Path, key: Any, port: int, **smtp: Any) -> Any:
    config = make_project(tmp_path / "digest", smtp=smtp_block(port, **smtp),
                          extra=f"dkim:\n  domain: {DOMAIN}\n  selector: {SELECTOR}\n  key_file: dkim.key\n")
    (config.root / "dkim.key").write_bytes(DkimSigner(key, domain=DOMAIN, selector=SELECTOR).pem)
    return config


class KillsSignersAlways(FaultyHandler):
    """Kills every DKIM worker process at every message: more deaths than any run should ride out."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for pid in _children(os.getpid()):
            os.kill(pid, signal.SIGKILL)
        return await super().handle_DATA(server, session, envelope)


def test_signers_that_keep_dying_stop_the_run_with_one_error_and_nothing_unretrieved(
        tmp_path: Path, key: Any, caplog: pytest.LogCaptureFixture) -> None:
    import gc

    from newsletter.errors import SendError

    handler = KillsSignersAlways()
    with SmtpServer(handler) as server:
        config = signed_project(tmp_path, key, server.port, concurrency=2)
        built = build_issue(config, parse_range("2023-07", None, None))
        with pytest.raises(SendError, match="DKIM signing processes died"):
            send(config, built, write_csv(config.root, 200))
    gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
    from support.sendkit import rows

    journaled = rows(config)
    accepted = set(handler.counts())
    assert {e for e, r in journaled.items() if r.state == "sent"} <= accepted
    assert len(accepted) < 200 and "sending" not in {r.state for r in journaled.values()}
    for _, content in handler.messages:
        assert dkim.verify(content, dnsfunc=dns_for(key))  # nothing went out unsigned


def test_sigterm_ends_a_signed_run_in_order_while_its_signers_are_stopped(tmp_path: Path, key: Any) -> None:
    """The first SIGTERM stops the run within seconds, whatever state the signing pool is in."""
    import subprocess
    import sys

    from support.sendkit import REPO, SECRET

    handler = FaultyHandler()
    handler.data_delay = 0.02
    with SmtpServer(handler) as server:
        config = signed_project(tmp_path, key, server.port, concurrency=2)
        csv = write_csv(config.root, 400)
        env = {**os.environ, "NEWSLETTER_TOKEN_SECRET": SECRET, "PYTHONPATH": str(REPO)}
        process = subprocess.Popen([sys.executable, "-m", "newsletter", "send", "2023-07", "--yes", "--config",
                                    str(config.path), "--subscribers", str(csv)],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        deadline = time.monotonic() + 60
        while len(handler.messages) < 20:
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
            time.sleep(0.01)
        workers = _children(process.pid)
        assert workers
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        finally:
            left = [pid for pid in workers if _alive(pid)]
            for pid in left:  # the test stopped them: it cleans up after a failure
                os.kill(pid, signal.SIGKILL)
            process.kill()
        output = process.communicate(timeout=10)[0]
        assert not left, output
    assert process.returncode == 130, output
    assert "Traceback" not in output and "never retrieved" not in output
    assert "To resume:" in output


def _alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    """The signing workers `pid` started (its children running send/signworker.py)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"signworker.py" in command:
                found.append(int(entry.name))
    return found


def test_a_script_without_a_main_guard_can_send_signed(tmp_path: Path, key: Any) -> None:
    """The workers are not started through multiprocessing, which runs the caller's script
    again in each worker and fails when the script has no `if __name__ == "__main__":`."""
    import subprocess
    import sys

    from support.sendkit import REPO

    (tmp_path / "dkim.key").write_bytes(DkimSigner(key, domain=DOMAIN, selector=SELECTOR).pem)
    script = tmp_path / "sign.py"
    script.write_text("import asyncio, pathlib\n"
                      "from newsletter.send.signpool import SigningPool\n"
                      "pool = SigningPool(pathlib.Path(__file__).with_name('dkim.key').read_bytes(), workers=2)\n"
                      "print(len(asyncio.run(pool.sign([bytes(32)] * 4))))\n"
                      "pool.close()\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (done.returncode, done.stdout.strip()) == (0, "4"), done.stderr


def test_a_bug_while_composing_a_signed_batch_stops_the_run_with_it(tmp_path: Path, key: Any,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Signed batches are composed in a task of their own; what goes wrong there is the run's
    error, raised where the run can report it, never a task exception nobody retrieves."""
    import gc

    from support.sendkit import rows

    from newsletter.send.messages import Composer

    real = Composer.prepare
    calls = {"n": 0}

    def failing(self: Composer, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 45:
            raise RuntimeError("composer broke")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Composer, "prepare", failing)
    handler = FaultyHandler()
    with SmtpServer(handler) as server:
        config = signed_project(tmp_path, key, server.port, concurrency=2)
        built = build_issue(config, parse_range("2023-07", None, None))
        with pytest.raises(RuntimeError, match="composer broke"):
            send(config, built, write_csv(config.root, 200))
    gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
    journaled = rows(config)
    assert {e for e, r in journaled.items() if r.state == "sent"} <= set(handler.counts())
    assert len(handler.counts()) < 200


def test_signing_workers_run_below_the_runs_priority(key: Any) -> None:
    """The run's loop gets a core before the workers (they sign ahead on what it leaves)."""
    pool = SigningPool(DkimSigner(key, domain=DOMAIN, selector=SELECTOR).pem, workers=2)
    try:
        asyncio.run(pool.sign([bytes(32)] * 2))  # started, key loaded
        nice = [int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16]) for pid in pool.pids()]
    finally:
        pool.close()
    assert nice == [min(19, os.nice(0) + 10)] * 2
