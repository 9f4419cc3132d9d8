"""The preview server over HTTP: every route, its errors, its guards, and the command.

Most tests drive the Starlette app in-process (TestClient, files rebuilt explicitly);
the live-rebuild, raw-path and command tests run a real uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import html
import http.client
import mailbox
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient
from support.previewkit import JULY, NEGLECT_ITEM, NEGLECT_TITLE, live_build, running_preview

from newsletter.cli import main
from newsletter.config import load_config
from newsletter.issue import BuildResult, build_issue, sent_bytes
from newsletter.preview.app import create_app, for_scheme
from newsletter.preview.livebuild import LiveBuild
from newsletter.preview.server import open_socket

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BASE = "http://127.0.0.1:8000"
SAME_ORIGIN = {"Origin": BASE}
SECRET = "TOP-SECRET-NOT-FOR-THE-WEB"


@pytest.fixture
def live(project: Path) -> LiveBuild:
    (project / "secret.txt").write_text(SECRET)  # what a path traversal would try to reach
    return live_build(project)


@pytest.fixture
def client(live: LiveBuild) -> Iterator[TestClient]:
    with TestClient(create_app(live, watch=False), base_url=BASE) as c:
        yield c


def built(project: Path) -> BuildResult:
    return build_issue(load_config(project / "newsletter.yaml"), JULY, write=False)


def break_item(project: Path) -> Path:
    path = project / NEGLECT_ITEM
    path.write_text(path.read_text().replace("date: 2023-07-10", "date: 2023-07-32"))
    return path


# --- the page ---------------------------------------------------------------------------

def test_page_shows_inbox_line_email_frame_and_size(client: TestClient, project: Path) -> None:
    page = client.get("/")
    result = built(project)
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "<title>Safeguarding digest: what's new in July 2023" in text
    assert 'class="from" title="digest@example.org">Example Trust Learning<' in text
    assert f'class="subject">{result.rendered.subject}<' in text
    assert f'class="preheader">{result.rendered.preheader}<' in text
    frame = re.search(r"<iframe id=\"email-frame\"[^>]*>", page.text, re.DOTALL).group(0)
    assert 'src="/email.html?scheme=light&amp;v=' in frame and 'width="700"' in frame
    sandbox = re.search(r'sandbox="([^"]*)"', frame).group(1)
    assert "allow-scripts" not in sandbox
    size = sent_bytes(result.files["email.html"].decode("utf-8"))
    assert size > len(result.files["email.html"])  # CRLF and quoted-printable add to the file's size
    assert f"The HTML part is {size / 1024:.1f} KB as sent, of the 102 KB Gmail shows before clipping" in text
    assert "12 items, July 2023" in text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_mobile_view_narrows_the_frame_and_toggles_keep_the_other_choices(client: TestClient) -> None:
    page = client.get("/?view=mobile&scheme=dark")
    frame = re.search(r"<iframe id=\"email-frame\"[^>]*>", page.text, re.DOTALL).group(0)
    assert 'width="375"' in frame and "scheme=dark" in frame
    assert 'href="?view=desktop&amp;scheme=dark&amp;tab=email" aria-pressed="false">Desktop' in page.text
    assert 'href="?view=mobile&amp;scheme=light&amp;tab=email" aria-pressed="false">Light' in page.text
    assert 'href="?view=mobile&amp;scheme=dark&amp;tab=text" aria-pressed="false">Plain text' in page.text


def test_plain_text_tab_shows_the_text_part(client: TestClient, project: Path) -> None:
    page = client.get("/?tab=text")
    text_part = built(project).files["email.txt"].decode()
    shown = re.search(r'<pre id="text-part" class="text-part">(.*?)</pre>', page.text, re.DOTALL).group(1)
    assert html.unescape(shown) == text_part
    assert "email-frame" not in page.text


def test_headers_tab_lists_the_sample_message_headers(client: TestClient) -> None:
    page = html.unescape(client.get("/?tab=headers").text)
    assert "<th scope=\"row\">List-Unsubscribe-Post</th><td>List-Unsubscribe=One-Click</td>" in page
    assert "<th scope=\"row\">Subject</th><td>Safeguarding digest: what's new in July 2023</td>" in page
    assert "<th scope=\"row\">To</th><td>Sam Sample <sam.sample@example.org></td>" in page
    assert "Content-Type" in page


@pytest.mark.parametrize("query", ["view=tablet", "scheme=sepia", "tab=source", "view="])
def test_unknown_view_choices_are_a_bad_request(client: TestClient, query: str) -> None:
    page = client.get(f"/?{query}")
    assert page.status_code == 400
    assert "view=desktop|mobile" in page.text


def test_check_results_and_warnings_are_listed_and_escaped(project: Path) -> None:
    finding = {"rule": "alt-text", "severity": "error", "where": "items/x.yaml:3",
               "message": "image has no alt text <script>alert(1)</script>", "hint": "add image.alt"}

    def with_findings(config: Any, date_range: Any, *, write: bool) -> BuildResult:
        result = build_issue(config, date_range, write=write)
        manifest = {**result.manifest, "checks": [finding], "warnings": ["a warning for you"]}
        return dataclasses.replace(result, manifest=manifest)

    live = LiveBuild(project / "newsletter.yaml", JULY, build=with_findings)
    with TestClient(create_app(live, watch=False), base_url=BASE) as client:
        page = client.get("/").text
    checks = page[page.index('id="checks"'):page.index('id="send-test"')]
    assert "alt-text" in checks and "items/x.yaml:3" in checks and "Hint: add image.alt" in checks
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in checks and "<script>alert" not in page
    assert '<li class="check error">' in checks and "Checks: 1 error, 0 warnings" in checks
    assert "a warning for you" in page


def test_passing_checks_say_so_and_a_build_without_checks_shows_none(project: Path, client: TestClient) -> None:
    assert built(project).manifest["checks"] == []  # the sample passes every check
    assert "All checks pass." in client.get("/").text

    def without(config: Any, date_range: Any, *, write: bool) -> BuildResult:
        result = build_issue(config, date_range, write=write)
        return dataclasses.replace(result, manifest={k: v for k, v in result.manifest.items() if k != "checks"})

    live = LiveBuild(project / "newsletter.yaml", JULY, build=without)
    with TestClient(create_app(live, watch=False), base_url=BASE) as other:
        assert 'id="checks"' not in other.get("/").text


def test_an_email_over_gmails_clip_is_flagged(project: Path) -> None:
    def big(config: Any, date_range: Any, *, write: bool) -> BuildResult:
        result = build_issue(config, date_range, write=write)
        padded = result.files["email.html"].replace(b"</body>", b"<p>" + b"x" * 110_000 + b"</p></body>")
        return dataclasses.replace(result, files={**result.files, "email.html": padded})

    live = LiveBuild(project / "newsletter.yaml", JULY, build=big)
    with TestClient(create_app(live, watch=False), base_url=BASE) as client:
        page = client.get("/").text
    assert '<p class="bad">' in page and "Gmail will clip it" in page


# --- the email and the built files ------------------------------------------------------

def test_email_route_serves_the_build_with_the_scheme_decided(client: TestClient, project: Path) -> None:
    original = built(project).files["email.html"].decode()
    assert "(prefers-color-scheme:dark)" in original
    light = client.get("/email.html?scheme=light")
    dark = client.get("/email.html?scheme=dark")
    assert light.text == original.replace("(prefers-color-scheme:dark)", "(max-width:0px)")
    assert dark.text == original.replace("(prefers-color-scheme:dark)", "(min-width:0px)")
    csp = dark.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp and "allow-scripts" not in csp
    assert client.get("/email.html?scheme=blue").status_code == 400


def test_for_scheme_decides_dark_and_light_queries_wherever_they_sit() -> None:
    css = ("@media screen and (prefers-color-scheme: dark){a{color:red}}"
           "@media (PREFERS-COLOR-SCHEME:light){a{color:blue}}")
    assert for_scheme(css, "dark") == ("@media screen and (min-width:0px){a{color:red}}"
                                       "@media (max-width:0px){a{color:blue}}")
    assert for_scheme(css, "light") == ("@media screen and (max-width:0px){a{color:red}}"
                                        "@media (min-width:0px){a{color:blue}}")


@pytest.mark.parametrize("name,kind", [("email.html", "text/html"), ("email.txt", "text/plain"),
                                       ("sample.eml", "text/plain"), ("manifest.json", "application/json")])
def test_built_files_are_served_byte_for_byte(client: TestClient, project: Path, name: str, kind: str) -> None:
    reply = client.get(f"/files/{name}")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith(kind)
    assert reply.content == built(project).files[name]


def test_static_assets_and_unknown_names(client: TestClient) -> None:
    assert "location.reload()" in client.get("/static/preview.js").text
    assert client.get("/static/preview.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/index.html").status_code == 404
    assert client.get("/files/newsletter.yaml").status_code == 404
    assert client.get("/nowhere").status_code == 404


TRAVERSALS = [
    "/files/%2e%2e/secret.txt", "/files/..%2fsecret.txt", "/files/%2e%2e%2fsecret.txt",
    "/files/%252e%252e%252fsecret.txt", "/files/..%252fsecret.txt",
    "/static/%2e%2e/%2e%2e/%2e%2e/secret.txt", "/static/..%2f..%2fpreview.py", "/static/%252e%252e%252fpreview.py",
    "/outbox/%2e%2e", "/outbox/..%2f..%2fsecret.txt", "/outbox/%2e%2e%2fsecret.txt",
    "/outbox/%252e%252e%252fsecret.txt", "/outbox/..%2fsecret.txt/raw", "/outbox/%2e%2e/html",
    "/outbox/new%2f..%2f..%2fsecret.txt/raw",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_encoded_path_traversal_reaches_nothing(client: TestClient, path: str, project: Path) -> None:
    _deliver(project, _message("a@example.org", "Hello"))
    reply = client.get(path)
    assert reply.status_code == 404
    assert SECRET not in reply.text and "import" not in reply.text


def test_raw_dot_dot_paths_reach_nothing_on_the_real_server(live: LiveBuild, project: Path) -> None:
    """httpx would normalise `..` away, so these go out byte for byte over a plain socket."""
    _deliver(project, _message("a@example.org", "Hello"))
    with running_preview(live, watch=False) as base:
        port = int(base.rsplit(":", 1)[1])
        for path in ["/files/../secret.txt", "/static/../../../secret.txt", "/outbox/../secret.txt",
                     "/outbox/../../secret.txt/raw", "/static/..%2f..%2f..%2fsecret.txt",
                     "/files/..\\secret.txt", "/outbox/..\\..\\secret.txt"]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            reply = conn.getresponse()
            body = reply.read().decode()
            conn.close()
            assert reply.status == 404, path
            assert SECRET not in body


# --- live versions ----------------------------------------------------------------------

def test_version_answers_at_once_when_behind_and_waits_when_current(client: TestClient, live: LiveBuild) -> None:
    current = client.get("/api/version").json()
    assert current == {"version": live.snapshot.version, "ok": True}
    assert client.get("/api/version?since=old").json()["version"] == current["version"]
    waited = client.get(f"/api/version?since={current['version']}&timeout=0.05").json()
    assert waited["version"] == current["version"]
    live.rebuild()
    moved = client.get(f"/api/version?since={current['version']}&timeout=5").json()
    assert moved["version"] != current["version"]
    assert client.get("/api/version?since=x&timeout=soon").status_code == 400


def test_editing_an_item_rebuilds_and_wakes_a_waiting_page(live: LiveBuild, project: Path) -> None:
    with running_preview(live) as base:
        assert live.watching.wait(5)
        before = httpx.get(f"{base}/api/version").json()["version"]
        item = project / NEGLECT_ITEM
        item.write_text(item.read_text().replace(NEGLECT_TITLE, "Neglect: what reviews teach us"))
        after = httpx.get(f"{base}/api/version", params={"since": before}, timeout=30).json()
        assert after["version"] != before and after["ok"]
        assert "Neglect: what reviews teach us" in httpx.get(f"{base}/email.html").text


def test_editing_the_config_and_adding_a_template_rebuild(live: LiveBuild, project: Path) -> None:
    with running_preview(live) as base:
        assert live.watching.wait(5)
        version = httpx.get(f"{base}/api/version").json()["version"]
        config = project / "newsletter.yaml"
        config.write_text(config.read_text().replace("name: Safeguarding digest", "name: Safety digest"))
        version = _next_version(base, version)
        assert "Safety digest: what&#39;s new" in httpx.get(base).text
        assert live.watching.wait(5)
        (project / "templates").mkdir()  # a new templates/ folder is watched from now on
        version = _next_version(base, version)
        assert live.watching.wait(5)
        source = (Path(__file__).resolve().parents[2] / "newsletter" / "templates" / "email.html").read_text()
        (project / "templates" / "email.html").write_text(source.replace("In this issue", "Inside"))
        _next_version(base, version)
        assert ">Inside</h2>" in httpx.get(f"{base}/email.html").text


def _next_version(base: str, since: str) -> str:
    reply = httpx.get(f"{base}/api/version", params={"since": since}, timeout=30).json()
    assert reply["version"] != since
    return str(reply["version"])


# --- build errors -----------------------------------------------------------------------

def test_a_broken_item_shows_file_line_hint_and_source_then_recovers(client: TestClient, live: LiveBuild,
                                                                      project: Path) -> None:
    path = break_item(project)
    live.rebuild()
    page = client.get("/")
    assert page.status_code == 500
    assert "The issue cannot be built" in page.text
    assert f'<code class="file">{NEGLECT_ITEM}</code>, line <span class="line">2</span>' in page.text
    assert "field <code>date</code>" in page.text
    assert '<p class="hint">Hint:' in page.text
    assert '<span class="src-line here"><span class="n">   2</span> date: 2023-07-32' in page.text
    assert client.get("/email.html").status_code == 503
    assert client.get("/files/email.txt").status_code == 503
    assert client.get("/api/version").json()["ok"] is False
    path.write_text(path.read_text().replace("2023-07-32", "2023-07-10"))
    live.rebuild()
    page = client.get("/")
    assert page.status_code == 200 and "cannot be built" not in page.text
    assert NEGLECT_TITLE in client.get("/email.html").text


def test_every_error_of_an_error_list_is_shown_and_escaped(client: TestClient, live: LiveBuild,
                                                           project: Path) -> None:
    break_item(project)
    (project / "items" / "zz-bad.yaml").write_text(
        'title: T\ndate: 2023-07-02\nsource: "<script>alert(1)</script>"\ncolour: red\ntheme: Neglect\n'
        "summary: s\nlinks:\n  - {label: Read, title: T, url: https://example.org/z}\n")
    live.rebuild()
    page = client.get("/").text
    assert "Fix these 2 problems" in page
    assert NEGLECT_ITEM in page and "items/zz-bad.yaml</code>, line <span class=\"line\">4</span>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page


def test_template_and_config_errors_are_shown_and_the_outbox_still_works(client: TestClient, live: LiveBuild,
                                                                          project: Path) -> None:
    (project / "templates").mkdir()
    (project / "templates" / "email.txt").write_text("{{ name }}\n{% if %}\n")
    live.rebuild()
    page = client.get("/").text
    assert "template syntax error" in page and 'line <span class="line">2</span>' in page
    assert "templates/email.txt" in page
    (project / "templates" / "email.txt").unlink()
    config = project / "newsletter.yaml"
    config.write_text(config.read_text().replace("themes:", "themse:"))
    live.rebuild()
    page = client.get("/").text
    assert '<code class="file">newsletter.yaml</code>' in page and "unknown setting" in page
    assert client.get("/outbox").status_code == 200  # the last good config still names the outbox


def test_a_bug_while_building_is_shown_and_the_server_goes_on(project: Path) -> None:
    calls = []

    def flaky(config: Any, date_range: Any, *, write: bool) -> BuildResult:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return build_issue(config, date_range, write=write)

    live = LiveBuild(project / "newsletter.yaml", JULY, build=flaky)
    with TestClient(create_app(live, watch=False), base_url=BASE) as client:
        page = client.get("/")
        assert page.status_code == 500 and "unexpected error: RuntimeError: boom" in page.text
        live.rebuild()
        assert client.get("/").status_code == 200


# --- outbox -----------------------------------------------------------------------------

def _message(to: str, subject: str, *, html_part: str | None = "<p>Hello <b>there</b></p>",
             text: str = "Hello there\n") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Learning team <digest@example.org>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Delivered-To"] = to
    msg.set_content(text)
    if html_part is not None:
        msg.add_alternative(html_part, subtype="html")
    return msg


def _deliver(project: Path, msg: EmailMessage, *, when: float | None = None) -> str:
    box = mailbox.Maildir(project / "outbox", create=True)
    key = box.add(msg)
    if when is not None:
        os.utime(project / "outbox" / "new" / key, (when, when))
    return key


def test_empty_outbox_says_how_it_fills(client: TestClient) -> None:
    page = client.get("/outbox")
    assert page.status_code == 200 and "No messages yet" in page.text and "Outbox (0)" in page.text


def test_outbox_lists_messages_newest_first(client: TestClient, project: Path) -> None:
    now = time.time()
    _deliver(project, _message("old@example.org", "First"), when=now - 120)
    _deliver(project, _message("new@example.org", "Second <b>"), when=now - 10)
    _deliver(project, _message("mid@example.org", "Middle"), when=now - 60)
    page = client.get("/outbox").text
    assert "Outbox (3)" in page and "3 messages in" in page
    order = [page.index(a) for a in ("new@example.org", "mid@example.org", "old@example.org")]
    assert order == sorted(order)
    assert "Second &lt;b&gt;" in page


def test_a_message_shows_headers_text_and_sandboxed_html(client: TestClient, project: Path) -> None:
    key = _deliver(project, _message("reader@example.org", "Your digest", text="Plain words here\n"))
    listing = client.get("/outbox").text
    assert f'href="/outbox/{key}"' in listing
    page = client.get(f"/outbox/{key}")
    assert page.status_code == 200
    assert "<th scope=\"row\">Delivered-To</th><td>reader@example.org</td>" in page.text
    assert re.search(r'<pre id="text-part" class="text-part">Plain words here\s*</pre>', page.text)
    frame = re.search(r"<iframe id=\"message-frame\"[^>]*>", page.text, re.DOTALL).group(0)
    sandbox = re.search(r'sandbox="([^"]*)"', frame).group(1)
    assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
    part = client.get(f"/outbox/{key}/html")
    assert part.text.strip() == "<p>Hello <b>there</b></p>"
    csp = part.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp and "script" not in csp
    raw = client.get(f"/outbox/{key}/raw")
    assert raw.headers["content-type"].startswith("text/plain") and b"Subject: Your digest" in raw.content


def test_a_text_only_message_and_unknown_keys(client: TestClient, project: Path) -> None:
    key = _deliver(project, _message("t@example.org", "Text only", html_part=None))
    page = client.get(f"/outbox/{key}").text
    assert "This message has no HTML part." in page and "message-frame" not in page
    assert client.get(f"/outbox/{key}/html").status_code == 404
    for path in ["/outbox/1234.M1P1Q1.nohost", f"/outbox/{key}x", f"/outbox/{key}x/raw", "/outbox/.hidden"]:
        assert client.get(path).status_code == 404, path
    assert "No such message" in client.get("/outbox/1234.M1P1Q1.nohost").text


# --- send test --------------------------------------------------------------------------

def test_send_test_puts_the_current_build_in_the_outbox(client: TestClient, project: Path) -> None:
    reply = client.post("/send-test", data={"address": "me@example.org"}, headers=SAME_ORIGIN)
    assert reply.status_code == 200, reply.text
    assert [r.status_code for r in reply.history] == [303] and reply.url.path == "/"  # post/redirect/get
    assert "Test sent to me@example.org: 1 sent into the local outbox" in reply.text
    listing = client.get("/outbox").text
    assert "me@example.org" in listing
    assert "[TEST] Safeguarding digest: what&#39;s new in July 2023" in listing
    key = re.search(r'href="/outbox/([^"]+)"', listing).group(1)
    assert NEGLECT_TITLE in client.get(f"/outbox/{key}/html").text


@pytest.mark.parametrize("address", ["", "not-an-address", "a@b.org\r\nBcc: victim@example.org", "a@@b.org"])
def test_send_test_refuses_bad_addresses(client: TestClient, project: Path, address: str) -> None:
    reply = client.post("/send-test", data={"address": address}, headers=SAME_ORIGIN)
    assert reply.history[0].status_code == 303 and reply.url.path == "/"  # back on the issue page
    assert 'role="alert"' in reply.text
    assert not (project / "outbox").exists()


@pytest.mark.parametrize("headers", [
    {}, {"Origin": "http://evil.example"}, {"Origin": "http://127.0.0.1:9999"}, {"Origin": "null"},
    {"Referer": "http://evil.example/page"}, {"Origin": "http://127.0.0.1:8000.evil.example"},
])
def test_send_test_refuses_cross_site_requests(client: TestClient, project: Path, headers: dict[str, str]) -> None:
    reply = client.post("/send-test", data={"address": "me@example.org"}, headers=headers)
    assert reply.status_code == 403
    assert not (project / "outbox").exists()


def test_send_test_accepts_a_same_origin_referer_and_refuses_while_broken(client: TestClient, live: LiveBuild,
                                                                         project: Path) -> None:
    reply = client.post("/send-test", data={"address": "r@example.org"}, headers={"Referer": f"{BASE}/?tab=text"})
    assert reply.status_code == 200
    break_item(project)
    live.rebuild()
    reply = client.post("/send-test", data={"address": "r@example.org"}, headers=SAME_ORIGIN)
    assert reply.history[0].status_code == 303 and "fix the build first" in reply.text


def test_send_test_reports_a_transport_that_cannot_be_used(project: Path) -> None:
    config = project / "newsletter.yaml"
    config.write_text(config.read_text() + "smtp: {host: 127.0.0.1, port: 9, security: none, timeout: 2,"
                                           " max_connection_failures: 1}\n")
    live = live_build(project)
    with TestClient(create_app(live, watch=False), base_url=BASE) as client:
        reply = client.post("/send-test", data={"address": "me@example.org"}, headers=SAME_ORIGIN)
    assert reply.history[0].status_code == 303 and 'role="alert"' in reply.text


# --- hosts ------------------------------------------------------------------------------

@pytest.mark.parametrize("host,status", [("127.0.0.1:8000", 200), ("localhost:8000", 200), ("[::1]:8000", 200),
                                         ("evil.example", 403), ("evil.example:8000", 403), ("", 403)])
def test_only_local_host_names_are_answered(client: TestClient, host: str, status: int) -> None:
    assert client.get("/", headers={"Host": host}).status_code == status


def test_other_hosts_are_answered_when_asked(live: LiveBuild) -> None:
    with TestClient(create_app(live, watch=False, allowed_hosts=None), base_url="http://box.lan:8000") as client:
        assert client.get("/").status_code == 200
        assert client.post("/send-test", data={"address": "x@example.org"},
                           headers={"Origin": "http://evil.example"}).status_code == 403


# --- the command ------------------------------------------------------------------------

def test_open_socket_binds_loopback_and_skips_taken_ports() -> None:
    first = open_socket("127.0.0.1", 0)
    port = first.getsockname()[1]
    try:
        second = open_socket("127.0.0.1", port)
        assert second.getsockname()[0] == "127.0.0.1" and second.getsockname()[1] > port
        second.close()
        with pytest.raises(OSError):
            open_socket("127.0.0.1", port, tries=1)
    finally:
        first.close()


def _start(project: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "newsletter", "preview", "2023-07", "--no-open", *args],
                            cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _url_of(proc: subprocess.Popen[str], printed: list[str] | None = None) -> str:
    """Read stdout up to the URL line; the lines read go into `printed`."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if printed is not None:
            printed.append(line)
        match = re.search(r"at (http://\S+/)", line)
        if match:
            return match.group(1)
    raise AssertionError(f"no URL printed; stderr: {proc.stderr.read() if proc.stderr else ''}")


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=15)


def test_command_serves_on_127_0_0_1_and_stops_on_ctrl_c(project: Path) -> None:
    port = _free_port()
    proc = _start(project, "--port", str(port))
    try:
        url = _url_of(proc)
        assert url == f"http://127.0.0.1:{port}/"
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200 and "Safeguarding digest: what&#39;s new in July 2023" in page.text
    finally:
        code = _stop(proc)
    assert code == 0
    assert "Built July 2023: 12 items in 6 themes" in proc.stderr.read()
    assert not (project / "issues").exists()  # previewing builds in memory, it does not publish


def test_ctrl_c_with_an_open_page_stops_without_an_error(project: Path) -> None:
    """An open preview tab long-polls for changes; stopping must neither hang nor log a traceback."""
    import threading

    proc = _start(project, "--port", str(_free_port()))
    try:
        url = _url_of(proc)
        version = httpx.get(f"{url}api/version", timeout=10).json()["version"]
        poll = threading.Thread(target=lambda: httpx.get(f"{url}api/version?since={version}", timeout=30),
                                daemon=True)
        poll.start()
        time.sleep(0.5)  # the long-poll is now waiting on the server
    finally:
        code = _stop(proc)
    assert code == 0
    stderr = proc.stderr.read() if proc.stderr else ""
    assert "Traceback" not in stderr and "ERROR" not in stderr, stderr


def test_command_moves_to_the_next_free_port_when_taken(project: Path) -> None:
    taken = open_socket("127.0.0.1", 0)
    port = taken.getsockname()[1]
    proc = _start(project, "--port", str(port))
    printed: list[str] = []
    try:
        url = _url_of(proc, printed)
        assert httpx.get(url, timeout=10).status_code == 200
    finally:
        _stop(proc)
        taken.close()
    moved_to = int(url.rstrip("/").rsplit(":", 1)[1])
    assert moved_to > port
    assert f"Port {port} is in use; using {moved_to} instead.\n" in printed


def test_command_serves_a_broken_issue_and_says_why(project: Path) -> None:
    break_item(project)
    proc = _start(project, "--port", str(_free_port()))
    try:
        url = _url_of(proc)
        page = httpx.get(url, timeout=10)
        assert page.status_code == 500 and NEGLECT_ITEM in page.text
    finally:
        _stop(proc)
    err = proc.stderr.read()
    assert f"error: {NEGLECT_ITEM}:2: date:" in err and "does not build yet" in err


def test_command_refuses_a_missing_config_and_bad_usage(tmp_path: Path, project: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["preview", "--no-open", "--config", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 1 and missing.stderr.startswith("error: ")
    assert "config file not found" in missing.stderr and "Traceback" not in missing.output
    assert runner.invoke(main, ["preview", "--port", "x"]).exit_code == 2
    bad_month = runner.invoke(main, ["preview", "2023-13", "--no-open", "--config", str(project / "newsletter.yaml")])
    assert bad_month.exit_code == 2 and "2023-13" in bad_month.stderr  # bad usage, as documented
    helped = runner.invoke(main, ["preview", "--help"])
    assert "newsletter preview 2023-07" in helped.output and "--no-open" in helped.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- approval (issue 30) ----------------------------------------------------------------

def test_approve_button_records_who_approved_and_an_edit_shows_as_a_change(client: TestClient, live: LiveBuild,
                                                                           project: Path) -> None:
    (project / "subscribers.csv").write_text("email,name\nami@example.org,Ami\n", encoding="utf-8")
    assert "Not approved yet" in client.get("/").text
    assert client.get("/approve").status_code == 405  # a GET never approves
    assert client.post("/approve", data={"by": "Jo Editor"}, headers={"Origin": "http://evil.example"}).status_code == 403
    assert "Not approved yet" in client.get("/").text
    reply = client.post("/approve", data={"by": "Jo Editor"}, headers=SAME_ORIGIN)
    assert [r.status_code for r in reply.history] == [303]
    assert "Approved by Jo Editor at" in reply.text and "this build is the approved one" in reply.text
    item = project / NEGLECT_ITEM
    item.write_text(item.read_text(encoding="utf-8").replace(NEGLECT_TITLE, "Neglect: what reviews teach us"),
                    encoding="utf-8")
    live.rebuild()
    page = client.get("/").text
    assert "Changed since the approval" in page and f"{NEGLECT_ITEM}: changed" in page
