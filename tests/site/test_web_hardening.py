"""Issue 14, point 8: tokens anchored with \\Z, the outbox serves no symlink, and every
response of both web apps (raw views, 404s and the framework's own 500 page) carries the
security headers."""

from __future__ import annotations

import mailbox
import os
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient
from support.previewkit import live_build
from support.project import set_token_secret

from newsletter.config import Config
from newsletter.preview import create_app as create_preview
from newsletter.site.app import create_app as create_site
from newsletter.tokens import make_token, read_token

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BASE = "http://127.0.0.1:8000"
SECRET = b"test-secret-for-hardening"


async def _boom(request: Request) -> Response:
    raise RuntimeError("a bug")


@pytest.fixture
def preview(project: Path) -> Iterator[TestClient]:
    app = create_preview(live_build(project), watch=False)
    app.router.routes.append(Route("/boom", _boom))  # a route with a bug, behind the real stack
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def site(config: Config, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    app = create_site(set_token_secret(monkeypatch, config, SECRET))
    app.router.routes.append(Route("/boom", _boom))
    return TestClient(app, raise_server_exceptions=False)


def _deliver(project: Path) -> str:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.org", "b@example.org", "Hello"
    msg.set_content("Hello\n")
    return mailbox.Maildir(project / "outbox", create=True).add(msg)


def test_a_token_with_a_trailing_newline_is_refused(config: Config) -> None:
    token = make_token(SECRET, config.list_id, "reader@example.org")
    assert read_token(token, config.list_id, [SECRET]) == "reader@example.org"
    assert read_token(token + "\n", config.list_id, [SECRET]) is None


def test_a_symlink_in_the_outbox_is_never_served(preview: TestClient, project: Path, tmp_path: Path) -> None:
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    _deliver(project)
    os.symlink(secret, project / "outbox" / "new" / "1700000000.M1P1Q1.evil")
    listing = preview.get("/outbox").text
    assert "Outbox (1)" in listing and "evil" not in listing
    for path in ("/outbox/1700000000.M1P1Q1.evil/raw", "/outbox/1700000000.M1P1Q1.evil"):
        answer = preview.get(path)
        assert answer.status_code == 404 and "root:x:0" not in answer.text


def test_a_symlinked_outbox_folder_is_never_served(preview: TestClient, project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    for sub in ("new", "cur", "tmp"):
        (elsewhere / sub).mkdir(parents=True)
    (elsewhere / "new" / "1700000000.M2P2Q2.host").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (project / "outbox").mkdir()
    for sub in ("new", "cur", "tmp"):
        os.symlink(elsewhere / sub, project / "outbox" / sub)
    assert preview.get("/outbox/1700000000.M2P2Q2.host/raw").status_code == 404


@pytest.mark.parametrize("path", ["/outbox/{key}/raw", "/outbox/nope/raw", "/outbox/{key}", "/boom",
                                  "/files/nope", "/"])
def test_every_preview_response_carries_the_security_headers(preview: TestClient, project: Path,
                                                             path: str) -> None:
    answer = preview.get(path.format(key=_deliver(project)))
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"
    assert "default-src" in answer.headers["content-security-policy"]
    if path == "/boom":
        assert answer.status_code == 500


@pytest.mark.parametrize("path, status", [("/boom", 500), ("/nowhere", 404), ("/unsubscribe?t=bad", 400)])
def test_every_site_response_carries_the_security_headers(site: TestClient, path: str, status: int) -> None:
    answer = site.get(path)
    assert answer.status_code == status
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert "default-src" in answer.headers["content-security-policy"]
    assert "set-cookie" not in answer.headers
