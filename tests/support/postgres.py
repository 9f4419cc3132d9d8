"""A real PostgreSQL for the tests: a fresh database per test on the cluster `.ci/run` starts.

`.ci/postgres start DIR` starts a cluster and exports `NEWSLETTER_TEST_PG` (a URL whose
role may create databases). Fixtures:

- `pg_url`: a fresh, empty database for this test (dropped afterwards), as a state URL;
- `backend`: parametrised `sqlite` / `postgresql`; sets `NEWSLETTER_STATE` for the
  postgresql run, so the same test, its config and its subprocesses use that database;
- `pg_cluster`: a private cluster of the test's own (for faults: restarting the server).

Without `NEWSLETTER_TEST_PG`, the tests that need it fail when `CI=true` (a server that
should be there is not) and are skipped with the reason otherwise; run locally with
`eval "$(.ci/postgres start /tmp/pg)"`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

__all__ = ["Cluster", "admin_url", "fresh_database", "postgres_bin"]

ENV = "NEWSLETTER_TEST_PG"


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: .ci/run must start PostgreSQL, see .ci/postgres)", pytrace=False)
    pytest.skip(f"{reason}: run `eval \"$(.ci/postgres start /tmp/pg)\"` to test on PostgreSQL")


def admin_url() -> str:
    """The test cluster's URL (its role may create databases); fails in CI, skips locally, if unset."""
    url = os.environ.get(ENV, "")
    if not url:
        _missing(f"{ENV} is not set")
    return url


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A new empty database on the test cluster; its URL. Dropped (connections and all) after."""
    import psycopg

    admin = admin_url()
    name = f"nl_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        _missing(f"the PostgreSQL at {admin} does not answer ({exc})")
    yield _with_database(admin, name)
    for attempt in range(50):
        try:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.errors.InsufficientPrivilege:  # an autovacuum worker (a superuser's) is in it: wait
            if attempt == 49:
                raise
            time.sleep(0.2)


@pytest.fixture
def pg_url(fresh_database: str) -> str:
    return fresh_database


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once on each engine: the postgresql run points NEWSLETTER_STATE at a
    fresh database, so every config loaded (in this process or a child) uses it."""
    if request.param == "postgresql":
        url = request.getfixturevalue("fresh_database")
        monkeypatch.setenv("NEWSLETTER_STATE", url)
    else:
        monkeypatch.delenv("NEWSLETTER_STATE", raising=False)
    return str(request.param)


def postgres_bin() -> Path:
    """The folder with initdb/pg_ctl: NEWSLETTER_TEST_PG_BIN, PATH, or the newest Debian one."""
    configured = os.environ.get("NEWSLETTER_TEST_PG_BIN")
    if configured:
        return Path(configured)
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions:
        _missing("PostgreSQL is not installed (no initdb)")
    return versions[-1]


class Cluster:
    """A PostgreSQL cluster of one test's own, on 127.0.0.1 at a free port, trust auth."""

    def __init__(self, root: Path) -> None:
        self.bin = postgres_bin()
        self.root = root
        self.data = root / "data"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.owner = None
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            self.owner = "postgres"
            try:
                subprocess.run(["id", "postgres"], check=True, capture_output=True)
            except subprocess.CalledProcessError:
                self.owner = "nobody"
            shutil.chown(root, self.owner)

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.owner:
            command = ["runuser", "-u", self.owner, "--", *command]
        subprocess.run(command, check=True, capture_output=True)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60",
                  "-o", f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def pg_cluster() -> Iterator[Cluster]:
    """A started cluster of this test's own, stopped afterwards (for restarting mid-send).
    Its folder is outside pytest's private temp folder: the server's user must reach it."""
    if not os.environ.get(ENV):
        admin_url()  # the same rule: no PostgreSQL for tests -> fail in CI, skip locally
    root = Path(tempfile.mkdtemp(prefix="newsletter-pg-"))
    root.chmod(0o755)
    cluster = Cluster(root)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
