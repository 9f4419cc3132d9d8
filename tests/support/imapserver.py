"""A real IMAP server for the tests: Dovecot (Debian's dovecot-imapd) on 127.0.0.1.

`dovecot` starts `dovecot -F -c CONF` with a config of its own in a fresh temp folder:
IMAPS on a free port with a self-signed certificate for `localhost` (the client trusts it
through SSL_CERT_FILE, as a user with a private CA would), one user from a passwd-file,
mail in a Maildir. Run as root, Dovecot's own processes and the mail files belong to an
unprivileged system user (dovecot/dovenull, else nobody), which is why the folder is
made outside pytest's private tmp_path. Without Dovecot the tests skip, except in CI
(CI=true), where they fail: .ci/run installs dovecot-imapd.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.smtpserver import self_signed_tls

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "bounces", "imap-test-password"


@dataclass
class Dovecot:
    """A running Dovecot: where it listens and a client to put mail in and look."""

    port: int
    cert: Path
    log: Path

    @property
    def url(self) -> str:
        return f"imaps://{USER}@localhost:{self.port}/INBOX"

    def client(self) -> imaplib.IMAP4_SSL:
        imap = imaplib.IMAP4_SSL("localhost", self.port, ssl_context=ssl.create_default_context(cafile=self.cert),
                                 timeout=30)
        imap.login(USER, PASSWORD)
        return imap

    def append(self, *messages: bytes, folder: str = "INBOX") -> None:
        imap = self.client()
        try:
            for raw in messages:
                imap.append(folder, None, None, raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        finally:
            imap.logout()

    def count(self, criterion: str = "ALL", folder: str = "INBOX") -> int:
        imap = self.client()
        try:
            imap.select(f'"{folder}"', readonly=True)
            _, data = imap.uid("SEARCH", criterion)
            return len(data[0].split()) if data and data[0] else 0
        finally:
            imap.logout()

    def create(self, folder: str) -> None:
        imap = self.client()
        try:
            imap.create(f'"{folder}"')
        finally:
            imap.logout()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _system_user(*names: str) -> pwd.struct_passwd:
    for name in names:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return pwd.getpwnam("nobody")


def _config(root: Path, port: int) -> str:
    if os.geteuid() == 0:
        internal, login = _system_user("dovecot"), _system_user("dovenull", "nobody")
    else:
        internal = login = pwd.getpwuid(os.getuid())
    mail = root / "mail"
    mail.mkdir()
    os.chown(mail, internal.pw_uid, internal.pw_gid)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n", encoding="utf-8")
    (root / "passwd").chmod(0o644)
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
auth_mechanisms = plain
default_internal_user = {internal.pw_name}
default_internal_group = {grp.getgrgid(internal.pw_gid).gr_name}
default_login_user = {login.pw_name}
first_valid_uid = 0
mail_uid = {internal.pw_uid}
mail_gid = {internal.pw_gid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = home={mail}/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


@pytest.fixture
def dovecot(monkeypatch: pytest.MonkeyPatch) -> Iterator[Dovecot]:
    """A Dovecot of its own for one test; SSL_CERT_FILE and the IMAP password set for the client."""
    if not os.path.exists(DOVECOT):
        if os.environ.get("CI") == "true":
            pytest.fail("dovecot is not installed (apt-get install dovecot-imapd)")
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    root = Path(tempfile.mkdtemp(prefix="newsletter-dovecot-"))
    root.chmod(0o755)
    try:
        self_signed_tls(root)
        (root / "key.pem").chmod(0o600)
        port = _free_port()
        (root / "dovecot.conf").write_text(_config(root, port), encoding="utf-8")
        process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        server = Dovecot(port, root / "cert.pem", root / "dovecot.log")
        try:
            _wait_until_ready(server, process)
            monkeypatch.setenv("SSL_CERT_FILE", str(server.cert))
            monkeypatch.setenv("NEWSLETTER_IMAP_PASSWORD", PASSWORD)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _wait_until_ready(server: Dovecot, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            log = server.log.read_text(errors="replace") if server.log.exists() else ""
            pytest.fail(f"dovecot exited ({process.returncode}): {err}{log}")
        try:
            server.client().logout()
            return
        except (OSError, imaplib.IMAP4.error):
            if time.monotonic() > deadline:
                pytest.fail("dovecot did not accept a login within 30 s: " + server.log.read_text(errors="replace"))
            time.sleep(0.1)
