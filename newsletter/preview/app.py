"""`newsletter preview`: the issue in the browser, rebuilt live, with the outbox beside it.

A Starlette app over a `LiveBuild` (which builds through the same `build_issue` as
`newsletter build`). The page frames the built email at desktop or mobile width, light or
dark, shows the plain text, the sample message's headers, the inbox line, the size against
Gmail's clip and the check results, a Report tab once the month is sent (reportview.py),
and long-polls `/api/version` to reload itself after each rebuild. The server is for one
person on one machine: it answers only to local host names (DNS rebinding) and refuses
cross-site POSTs.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from email_validator import EmailNotValidError, validate_email
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from newsletter.errors import NewsletterError
from newsletter.issue import GMAIL_CLIP_BYTES, PreviewVariants, preview_variant, sent_bytes, theme_query
from newsletter.preview.approval import ApprovalPanel, approve_snapshot
from newsletter.preview.guard import COMMON_HEADERS, LOCAL_HOSTS, GuardedApp, LocalOnly
from newsletter.preview.languages import language_choices, language_query
from newsletter.preview.livebuild import LiveBuild, Snapshot
from newsletter.preview.mailview import count_outbox, outbox_routes
from newsletter.preview.outlook import outlook_view
from newsletter.preview.reportview import report_context
from newsletter.send import send_test_async

__all__ = ["create_app", "for_scheme"]

UI = Path(__file__).parent.parent / "templates" / "preview"
VIEWS = {"desktop": 700, "mobile": 375, "outlook": 1000}  # outlook: a wide window, Word's rules
SCHEMES = ("light", "dark")
TABS = ("email", "text", "headers")
FILES = {"email.html": "text/html; charset=utf-8", "email.txt": "text/plain; charset=utf-8",
         "sample.eml": "text/plain; charset=utf-8", "manifest.json": "application/json"}
STATIC = {"preview.css": "text/css; charset=utf-8", "preview.js": "text/javascript; charset=utf-8"}
PAGE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
# The built email is ours, but it is framed like any email: no scripts, remote images only.
EMAIL_CSP = ("default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
             "font-src https: data:; frame-ancestors 'self'; "
             "sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox")
LONG_POLL_SECONDS = 20.0
OUTCOMES_KEPT = 20
_SCHEME_QUERY = re.compile(r"\(\s*prefers-color-scheme\s*:\s*(light|dark)\s*\)", re.IGNORECASE)


def for_scheme(html: str, scheme: str) -> str:
    """The email with its `prefers-color-scheme` queries decided: the view, not the OS, picks.

    `(prefers-color-scheme: dark)` becomes a query that always holds in the dark view and
    never in the light one (and the reverse for `light`), wherever it sits in a media list.
    """
    def decide(match: re.Match[str]) -> str:
        return "(min-width:0px)" if match.group(1).lower() == scheme else "(max-width:0px)"

    return _SCHEME_QUERY.sub(decide, html)


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(UI)), autoescape=select_autoescape(("html",)),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["kb"] = lambda size: f"{size / 1024:.1f} KB"
    return env


def _headers_of(eml: bytes) -> list[tuple[str, str]]:
    msg = BytesHeaderParser(policy=policy.default).parsebytes(eml)
    return [(name, " ".join(str(value).split())) for name, value in msg.items()]


def _issue_context(snap: Snapshot, result: Any = None) -> dict[str, Any]:
    """The page's context for the build, or for `result`, a theme variant of it (issue 9)."""
    result = result or snap.result
    if result is None or snap.config is None:
        return {}
    files = result.files
    manifest = result.manifest
    name, address = parseaddr(snap.config.sender)
    size = sent_bytes(files["email.html"].decode("utf-8"))  # as sent: what Gmail's clip counts
    checks = manifest.get("checks")
    return {
        "rendered": result.rendered,
        "manifest": manifest,
        "from_name": name or address,
        "from_address": address,
        "text": files["email.txt"].decode("utf-8"),
        "headers": _headers_of(files["sample.eml"]),
        "size": size,
        "clip": GMAIL_CLIP_BYTES,
        "clipped": size > GMAIL_CLIP_BYTES,
        "excerpt_of": result.rendered.excerpt_of,
        "checks": checks if isinstance(checks, list) else None,
        "warnings": manifest.get("warnings", []),
    }


@dataclass(frozen=True)
class SendTestOutcome:
    """What one "Send test" did, kept for the issue page the browser is redirected to."""

    address: str  # as typed, to fill the field again
    sent_to: str | None = None  # the normalised address, when it was sent
    report: str = ""
    problem: str | None = None


async def _send_test(live: LiveBuild, raw: str, language: str = "") -> SendTestOutcome:
    """Send the current build to `raw` as a test, in `language` ("" for the config's) as the
    page showed it; the outcome, never an exception."""
    snap = live.snapshot
    try:
        address = validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        return SendTestOutcome(raw, problem=f"{raw or 'no address'}: {exc}")
    if snap.config is None or snap.result is None:
        return SendTestOutcome(raw, problem="fix the build first")
    config, result = snap.config, snap.result
    language, problem = language_query(language, config)
    if problem:
        return SendTestOutcome(raw, problem=problem)
    if language:  # the whole issue in that language, rendered off the event loop
        view = await asyncio.to_thread(preview_variant, result, config, [], language=language)
        if view.result is None:
            return SendTestOutcome(raw, problem=f"nothing to send in {language}")
        config, result = config.in_language(language), view.result
    try:
        report = await send_test_async(config, result, [address])
    except NewsletterError as exc:
        return SendTestOutcome(raw, problem=str(exc))
    if report.failed or not report.sent:
        return SendTestOutcome(raw, problem=f"not sent: {report}")
    return SendTestOutcome(raw, sent_to=address, report=str(report))


def create_app(live: LiveBuild, *, watch: bool = True,
               allowed_hosts: Sequence[str] | None = LOCAL_HOSTS) -> Starlette:
    """The preview app over `live`; `watch` rebuilds on file changes while it runs."""
    env = _environment()
    theme_views = PreviewVariants()
    outcomes: dict[str, SendTestOutcome] = {}  # the latest test sends' outcomes, by the token in ?sent=
    panel = ApprovalPanel()
    approve_problems: dict[str, str] = {}  # by the token in ?approve=

    def chosen(request: Request, snap: Snapshot) -> tuple[Any, dict[str, Any], str | None]:
        """The build as readers of the `language=` in the query with its `themes=` would
        receive it: (result, context, problem)."""
        query = request.query_params
        if snap.result is None or snap.config is None:
            return snap.result, {}, None
        config = snap.config
        names, errors = theme_query([*query.getlist("themes"), *query.getlist("theme")], config)
        language, problem = language_query(query.get("language", ""), config)
        context = {"topics": [(t, t in names) for t in config.themes],
                   "themes_query": ",".join(names) if len(names) < len(config.themes) else "",
                   "languages": language_choices(config, language), "language_query": language}
        if errors or problem:
            return None, context, "; ".join([*(str(e) for e in errors), *([problem] if problem else [])])
        view = theme_views.view(snap.result, config, snap.version, names, language)
        if view.result is None:
            return None, context, (f"Nothing in {', '.join(names)} this month: subscribers who chose only "
                                   "these themes are skipped (set quiet_month: in the config to send them a note)")
        return view.result, context, None

    def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        snap = live.snapshot
        config = live.config
        base = {"request": request, "snap": snap, "date_range": live.date_range,
                "outbox_count": count_outbox(config.outbox_dir) if config else 0}
        page = env.get_template(name).render({**base, **context})
        return HTMLResponse(page, status, headers={**COMMON_HEADERS, "Content-Security-Policy": PAGE_CSP})

    def bad_request(request: Request, message: str, status: int = 400) -> Response:
        return render(request, "problem.html", {"problem": message}, status)

    async def index(request: Request) -> Response:
        query = request.query_params
        view, scheme, tab = query.get("view", "desktop"), query.get("scheme", "light"), query.get("tab", "email")
        if view not in VIEWS or scheme not in SCHEMES or tab not in TABS:
            return bad_request(request, "unknown view: use view=desktop|mobile|outlook, scheme=light|dark, "
                                        "tab=email|text|headers")
        snap = live.snapshot
        result, topics, problem = chosen(request, snap)
        if problem:
            return bad_request(request, problem)
        outcome = outcomes.get(query.get("sent", ""))
        context = {"view": view, "width": VIEWS[view], "scheme": scheme, "tab": tab,
                   "sent_to": outcome.sent_to if outcome else None,
                   "send_problem": outcome.problem if outcome else None,
                   "report": outcome.report if outcome else None,
                   "address": outcome.address if outcome else "", **topics, **_issue_context(snap, result),
                   "approve_problem": approve_problems.get(query.get("approve", "")),
                   **(await asyncio.to_thread(panel.context, snap))}
        return render(request, "index.html", context, 200 if snap.ok else 500)

    async def email_html(request: Request) -> Response:
        scheme = request.query_params.get("scheme", "light")
        snap = live.snapshot
        if scheme not in SCHEMES:
            return Response("scheme must be light or dark\n", 400, media_type="text/plain")
        result, _, problem = chosen(request, snap)
        if result is None:
            return Response(f"{problem or 'the build failed: see the preview page'}\n", 400 if problem else 503,
                            media_type="text/plain")
        html = for_scheme(result.files["email.html"].decode("utf-8"), scheme)
        if request.query_params.get("outlook") == "1":
            html = outlook_view(html)
        return HTMLResponse(html, headers={**COMMON_HEADERS, "Content-Security-Policy": EMAIL_CSP})

    async def built_file(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in FILES:
            return Response("no such file\n", 404, media_type="text/plain")
        snap = live.snapshot
        result, _, problem = chosen(request, snap)
        if result is None:
            return Response(f"{problem or 'the build failed: see the preview page'}\n", 400 if problem else 503,
                            media_type="text/plain")
        return Response(result.files[name], media_type=FILES[name],
                        headers={**COMMON_HEADERS, "Content-Security-Policy": EMAIL_CSP})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("no such file\n", 404, media_type="text/plain")
        return Response((UI / name).read_bytes(), media_type=STATIC[name], headers=COMMON_HEADERS)

    async def report(request: Request) -> Response:
        """The Report tab: `newsletter report` for the previewed month, with SVG charts."""
        context = await run_in_threadpool(report_context, live.config, live.date_range)
        return render(request, "report.html", context)

    async def version(request: Request) -> Response:
        since = request.query_params.get("since")
        try:
            timeout = min(float(request.query_params.get("timeout", LONG_POLL_SECONDS)), LONG_POLL_SECONDS)
        except ValueError:
            return JSONResponse({"error": "timeout must be a number of seconds"}, 400)
        current = live.snapshot.version
        if since is not None and timeout > 0:
            current = await live.wait_for_change(since, timeout)
        return JSONResponse({"version": current, "ok": live.snapshot.ok}, headers=COMMON_HEADERS)

    async def send_test_form(request: Request) -> Response:
        """Post/redirect/get: send, keep the outcome, and go back to the issue page as it was
        (view, scheme, tab, themes, language), which shows the outcome; reloading it sends nothing."""
        form = await request.form()
        outcome = await _send_test(live, str(form.get("address") or "").strip(), str(form.get("language") or ""))
        token = secrets.token_urlsafe(9)
        outcomes[token] = outcome
        while len(outcomes) > OUTCOMES_KEPT:
            outcomes.pop(next(iter(outcomes)))
        back = {key: str(form.get(key)) for key in ("view", "scheme", "tab", "themes", "language") if form.get(key)}
        return RedirectResponse(f"/?{urlencode({**back, 'sent': token})}#send-test", 303,
                                headers=COMMON_HEADERS)

    async def approve_form(request: Request) -> Response:
        """Post/redirect/get: approve the build on screen; the page then shows the approval."""
        form = await request.form()
        problem = await asyncio.to_thread(approve_snapshot, live.snapshot, str(form.get("by") or "").strip())
        query = {}
        if problem:
            token = secrets.token_urlsafe(9)
            approve_problems[token] = problem
            while len(approve_problems) > OUTCOMES_KEPT:
                approve_problems.pop(next(iter(approve_problems)))
            query["approve"] = token
        return RedirectResponse(f"/?{urlencode(query)}#approval", 303, headers=COMMON_HEADERS)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(live.watch(stop)) if watch else None
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                await task

    routes = [
        Route("/", index, name="index"),
        Route("/email.html", email_html, name="email_html"),
        Route("/files/{name}", built_file, name="file"),
        Route("/static/{name}", static, name="static"),
        Route("/api/version", version, name="version"),
        Route("/report", report, name="report"),
        Route("/send-test", send_test_form, methods=["POST"], name="send_test"),
        Route("/approve", approve_form, methods=["POST"], name="approve"),
        *outbox_routes(render, lambda: live.config.outbox_dir if live.config else None),
    ]
    app = GuardedApp(routes=routes, lifespan=lifespan)
    app.add_middleware(LocalOnly, allowed_hosts=allowed_hosts)
    return app


