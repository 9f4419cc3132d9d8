"""Link checking against a real HTTP server on 127.0.0.1, and its one-day cache."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.project import item_yaml

from newsletter.cli import main
from newsletter.config import load_config
from newsletter.issue.probe import link_findings, probe_links, web_links
from newsletter.journal import connect

SLOW_SECONDS = 1.5
TIMEOUT = 0.3


class Site(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Site

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def do_HEAD(self) -> None:
        self.answer(body=False)

    def do_GET(self) -> None:
        self.answer(body=True)

    def answer(self, *, body: bool) -> None:
        with self.server.lock:
            self.server.requests[(self.command, self.path)] += 1
        path = self.path
        if path == "/slow":
            time.sleep(SLOW_SECONDS)
            return self.reply(200, body)
        if path == "/moved":
            return self.reply(301, body, location="/ok")
        if path == "/hop":
            return self.reply(302, body, location="/moved")
        if path == "/loop":
            return self.reply(302, body, location="/loop")
        if path == "/no-head" and self.command == "HEAD":
            return self.reply(405, body)
        if path == "/head-broken" and self.command == "HEAD":
            return self.reply(501, body)
        codes = {"/ok": 200, "/no-head": 200, "/head-broken": 200, "/missing": 404, "/broken": 500,
                 "/forbidden": 403}
        self.reply(codes.get(path, 404), body)

    def reply(self, status: int, body: bool, location: str | None = None) -> None:
        payload = f"<p>{status}</p>".encode()
        try:
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if body:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests go straight to 127.0.0.1, whatever proxy the environment names."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def by_path(results, site: Site):
    return {r.url.removeprefix(site.base): r for r in results}


def test_statuses_redirects_and_fallbacks(site: Site) -> None:
    paths = ["/ok", "/moved", "/hop", "/missing", "/broken", "/no-head", "/head-broken", "/forbidden"]
    results = by_path(probe_links([site.base + p for p in paths], timeout=2), site)
    assert {p: r.status for p, r in results.items()} == {
        "/ok": 200, "/moved": 200, "/hop": 200, "/missing": 404, "/broken": 500, "/no-head": 200,
        "/head-broken": 200, "/forbidden": 403}
    assert results["/moved"].final_url == site.base + "/ok"
    assert results["/moved"].redirects == (f"301 {site.base}/moved",)
    assert results["/hop"].redirects == (f"302 {site.base}/hop", f"301 {site.base}/moved")
    assert results["/ok"].method == "HEAD" and results["/ok"].redirects == ()
    assert results["/no-head"].method == "GET" and results["/head-broken"].method == "GET"
    assert site.requests[("GET", "/ok")] == 0  # a good HEAD answer is enough
    assert site.requests[("HEAD", "/no-head")] == 1 and site.requests[("GET", "/no-head")] == 1


def test_findings_per_link(site: Site) -> None:
    paths = ["/ok", "/moved", "/missing", "/broken", "/forbidden", "/loop"]
    results = probe_links([site.base + p for p in paths], timeout=2)
    places = {site.base + "/missing": "items/a.yaml:1"}
    found = {f.message.split()[0].removeprefix(site.base).rstrip(":"): f
             for f in link_findings(results, lambda url, where: places.get(url, where))}
    assert set(found) == {"/moved", "/missing", "/broken", "/forbidden", "/loop"}
    assert (found["/missing"].rule, found["/missing"].severity, found["/missing"].where) == (
        "link-broken", "error", "items/a.yaml:1")
    assert "answers 404" in found["/missing"].message
    assert (found["/broken"].rule, found["/broken"].severity) == ("link-broken", "error")
    assert (found["/forbidden"].rule, found["/forbidden"].severity) == ("link-broken", "warning")
    assert (found["/moved"].rule, found["/moved"].severity) == ("link-redirect", "warning")
    assert f"redirects to {site.base}/ok" in found["/moved"].message
    assert (found["/loop"].rule, found["/loop"].severity) == ("link-unreachable", "error")
    assert "redirect" in found["/loop"].message


def test_slow_link_times_out_and_others_still_answer(site: Site) -> None:
    started = time.monotonic()
    results = by_path(probe_links([site.base + "/slow", site.base + "/ok"], timeout=TIMEOUT), site)
    assert results["/slow"].status is None and "no answer within 0.3 s" in results["/slow"].error
    assert results["/ok"].status == 200
    assert time.monotonic() - started < SLOW_SECONDS * 2  # HEAD and GET both gave up early
    [finding] = link_findings([results["/slow"]])
    assert (finding.rule, finding.severity) == ("link-unreachable", "warning")


def test_refused_connection_is_an_error() -> None:
    server = Site()
    url = server.base + "/ok"
    server.server_close()  # nothing listens there any more
    [result] = probe_links([url], timeout=1)
    assert result.status is None and result.error.startswith("cannot connect")
    assert [f.severity for f in link_findings([result])] == ["error"]


def test_answers_are_cached_for_a_day(site: Site, tmp_path: Path) -> None:
    db = connect(tmp_path / "state.db")
    urls = [site.base + p for p in ("/ok", "/moved", "/missing", "/slow")]
    first = probe_links(urls, db=db, timeout=TIMEOUT)
    assert not any(r.cached for r in first)
    before = sum(site.requests.values())
    second = probe_links(urls, db=db, timeout=TIMEOUT)
    # answered links come from the cache; the timed-out one is asked again
    requested = {path for (_, path), n in site.requests.items() if n} - {"/ok", "/moved", "/missing"}
    assert requested == {"/slow"}
    assert sum(site.requests.values()) - before == 2  # HEAD + GET for /slow only
    assert [(r.status, r.final_url, r.redirects, r.cached) for r in second[:3]] == [
        (r.status, r.final_url, r.redirects, True) for r in first[:3]]
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1, minutes=1)
    before = site.requests[("HEAD", "/ok")]
    [later] = probe_links(urls[:1], db=db, timeout=TIMEOUT, now=tomorrow)
    assert site.requests[("HEAD", "/ok")] == before + 1 and not later.cached  # a day later: asked again
    db.close()


def test_cache_survives_reopening_the_state_file(site: Site, tmp_path: Path) -> None:
    db = connect(tmp_path / "state.db")
    probe_links([site.base + "/ok"], db=db, timeout=2)
    db.close()
    db = connect(tmp_path / "state.db")
    [again] = probe_links([site.base + "/ok"], db=db, timeout=2)
    db.close()
    assert again.cached and again.status == 200 and site.requests[("HEAD", "/ok")] == 1


def test_web_links_skips_personal_links_and_repeats(config) -> None:
    html = ('<html><body><a href="https://example.org/a">A</a><a href="https://example.org/a">A</a>'
            '<img src="https://example.org/i.jpg" alt="x"><a href="mailto:x@example.org">m</a>'
            f'<a href="{config.unsubscribe_url}?t=abc">Unsubscribe</a><a href="#top">Top</a></body></html>')
    assert web_links(html, config) == ["https://example.org/a", "https://example.org/i.jpg"]


def test_check_command_with_links(site: Site, empty_project: Path, write_item) -> None:
    also = f"\n  - title: Gone\n    url: {site.base}/missing"
    write_item(item_yaml(url=site.base + "/ok", see_also=also))
    config_path = empty_project / "newsletter.yaml"
    runner = CliRunner()
    result = runner.invoke(main, ["check", "2023-07", "--config", str(config_path)])
    assert result.exit_code == 0, result.output  # http links are warnings only
    assert result.output.count("link-https") == 2 and "Checks: 0 errors" in result.output
    assert "http://127.0.0.1" in result.output
    result = runner.invoke(main, ["check", "2023-07", "--links", "--timeout", "2", "--config", str(config_path)])
    assert result.exit_code == 1, result.output
    assert "link-broken" in result.output and "items/item.yaml:1" in result.output
    db = connect(load_config(config_path).state)
    try:
        assert db.execute("SELECT COUNT(*) FROM link_checks").fetchone()[0] == 2
    finally:
        db.close()
