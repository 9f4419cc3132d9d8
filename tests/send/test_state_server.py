"""The send with its state on a PostgreSQL server: the server restarting mid-run, and two
machines (two project folders) sharing one state, the site on one and the send on the other.

Real parts: a PostgreSQL cluster (tests/support/postgres.py), an aiosmtpd server, `newsletter
send` as a subprocess, the subscriber site's app in the test's process for the other folder.
"""

from __future__ import annotations

import mailbox
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from starlette.testclient import TestClient
from support.postgres import Cluster
from support.sendkit import REPO, SECRET, make_project, rows, smtp_block, states, write_csv
from support.smtpserver import FaultyHandler, SmtpServer

from newsletter.site import create_app
from newsletter.tokens import make_stamp, make_token

pytestmark = pytest.mark.usefixtures("token_secret")


def _start_send(config_path: Path, csv: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "NEWSLETTER_TOKEN_SECRET": SECRET, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "newsletter", "send", "2023-07", "--yes", "--config",
                             str(config_path), "--subscribers", str(csv)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _wait_for(handler: FaultyHandler, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while len(handler.messages) < count:
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "the send never got going"
        time.sleep(0.01)


def test_postgresql_restarted_mid_send_the_send_waits_then_finishes_everyone_once(
        tmp_path: Path, server: SmtpServer, pg_cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    with psycopg.connect(pg_cluster.url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE digest")
    monkeypatch.setenv("NEWSLETTER_STATE", pg_cluster.url.rsplit("/", 1)[0] + "/digest")
    server.handler.data_delay = 0.01
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port, concurrency=4))
    total = 300
    process = _start_send(config.path, write_csv(config.root, total))
    _wait_for(server.handler, 60, process)
    pg_cluster.stop("fast")  # the server goes away mid-run ...
    time.sleep(1.5)
    sent_while_down = len(server.handler.messages)
    time.sleep(1.0)
    assert len(server.handler.messages) - sent_while_down <= 8  # ... the send waits (but finishes what is in flight)
    pg_cluster.start()  # ... and comes back on the same port
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 0, output
    assert "state database is unreachable" in output and "back" in output
    counts = server.handler.counts()
    assert set(counts) == {f"user{i}@example.org" for i in range(total)}  # nobody lost
    twice = {address for address, n in counts.items() if n > 1}
    flagged = {email for email, row in rows(config).items() if row.possible_duplicate}
    assert twice <= flagged  # nobody sent twice unless reported
    assert set(states(config).values()) == {"sent"}


def test_two_folders_one_postgresql_state_the_sites_opt_outs_and_sign_ups_reach_the_send(
        tmp_path: Path, server: SmtpServer, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The officer's laptop sends; the public server runs the site. Nothing is copied between
    them: both folders' newsletter.yaml say `state: <the one database>`."""
    monkeypatch.delenv("NEWSLETTER_STATE", raising=False)
    extra = f"state: {pg_url}\n"
    laptop = make_project(tmp_path / "laptop", smtp=smtp_block(server.port, concurrency=2), extra=extra)
    public = make_project(tmp_path / "public", extra=extra + 'subscribe: {url: "https://example.org/subscribe", '
                                                             'consent: "Yes, send me the digest."}\n')
    shutil.rmtree(public.root / "items")  # the site's machine has no items, no list, no issues
    site = TestClient(create_app(public))
    before, during, newcomer = "user3@example.org", "user35@example.org", "new.reader@example.org"

    def unsubscribe(address: str) -> None:
        answer = site.post(f"/unsubscribe?t={make_token(SECRET.encode(), public.list_id, address)}",
                           data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
        assert answer.status_code == 200

    unsubscribe(before)
    shown = make_stamp(SECRET.encode(), public.list_id, int(time.time() - 10))
    assert site.post("/subscribe", data={"email": newcomer, "stamp": shown, "source": "page"}).status_code == 200
    assert site.app.state.site.mailer.wait_idle(30)  # the background sender mails the link
    [mail] = list(mailbox.Maildir(str(public.outbox_dir), create=False))
    text = next(part for part in mail.walk() if part.get_content_type() == "text/plain")
    link = re.search(r"https://example\.org(/subscribe/confirm\?t=\S+)", text.get_payload(decode=True).decode())
    assert link is not None
    assert site.post(link.group(1)).status_code == 200  # confirmed on the public server

    server.handler.data_delay = 0.05
    process = _start_send(laptop.path, write_csv(laptop.root, 60))
    _wait_for(server.handler, 10, process)
    unsubscribe(during)  # on the site, while the other machine's send runs
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 0, output
    received = server.handler.counts()
    assert before not in received and during not in received
    assert received[newcomer] == 1  # signed up on the site, mailed from the laptop
    assert {rows(laptop)[a].state for a in (before, during)} == {"skipped"}
