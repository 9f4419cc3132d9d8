"""Make the documentation's screenshots from the bundled sample: `python docs/screenshots.py`.

Screenshots are made, not drawn, so they show what the tool really produces today.
The script copies the sample (newsletter.yaml, items/, subscribers.example.csv) into a
temporary folder, runs the real commands there as a user would (`build`, a test `send`
into the local outbox, `preview`, `serve`) and photographs the results with
Debian's Chromium (/usr/bin/chromium, headless, through Playwright) into docs/img/:

- email-600-light.png, email-600-dark.png, email-375-light.png, email-375-dark.png:
  the built `email.html` at 600 and 375 px, light and dark (prefers-color-scheme);
- preview.png, preview-outbox.png: the officer's preview and its Outbox tab;
- unsubscribe.png, preferences.png: the subscriber pages (confirm unsubscribing,
  manage your topics).

Nothing leaves the machine: the browser may load 127.0.0.1 and file:// only (the
sample's remote images are refused, so their alt text shows), and mail goes to the
local outbox. Re-running it overwrites the pictures.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, Route, sync_playwright

REPO = Path(__file__).resolve().parent.parent
IMG = REPO / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"
SECRET = "documentation-screenshots-secret-0123456789"
READER = "sam.sample@example.org"
# How tall each picture may be: enough to show the masthead and the first items,
# small enough to keep the PNGs light.
EMAIL_HEIGHT = 900
PAGE_SIZE = {"width": 1280, "height": 860}


def newsletter(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m newsletter ARGS` in the sample copy, as a user would."""
    env = {**os.environ, "NEWSLETTER_TOKEN_SECRET": SECRET, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "newsletter", *args], cwd=root, env=env,
                          check=True, capture_output=True, text=True)


def copy_sample(root: Path, *, preferences: bool) -> Path:
    """The repository's sample in `root`; with `preferences`, the topics page switched on."""
    root.mkdir(parents=True)
    shutil.copytree(REPO / "items", root / "items")
    shutil.copy(REPO / "subscribers.example.csv", root / "subscribers.csv")
    config = (REPO / "newsletter.yaml").read_text(encoding="utf-8")
    if preferences:
        config += '\npreferences_url: "https://example.org/unsubscribe/preferences"\n'
    (root / "newsletter.yaml").write_text(config, encoding="utf-8")
    return root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url_port: int, process: subprocess.Popen[str]) -> None:
    """Until something listens on 127.0.0.1:`url_port` (or the server died)."""
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped: {process.stderr.read() if process.stderr else ''}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", url_port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("the server did not start")


@contextmanager
def serving(root: Path, *args: str, port: int) -> Iterator[str]:
    """A long-running command (preview, serve) on `port`; stopped on exit."""
    env = {**os.environ, "NEWSLETTER_TOKEN_SECRET": SECRET, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "newsletter", *args], cwd=root, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def local_only(route: Route) -> None:
    if route.request.url.startswith(("file://", "http://127.0.0.1:")):
        route.continue_()
    else:
        route.abort()


def new_page(browser: Browser, **options: object) -> Page:
    context = browser.new_context(**options)  # type: ignore[arg-type]
    context.route("**/*", local_only)
    return context.new_page()


def shoot(page: Page, name: str) -> None:
    page.screenshot(path=str(IMG / name))
    print(f"wrote docs/img/{name} ({(IMG / name).stat().st_size // 1024} KB)")


def email_shots(browser: Browser, email_html: Path) -> None:
    """The email as sent, at 600 and 375 px, light and dark."""
    for width in (600, 375):
        for scheme in ("light", "dark"):
            page = new_page(browser, viewport={"width": width, "height": EMAIL_HEIGHT},
                            color_scheme=scheme)
            page.goto(email_html.as_uri())
            shoot(page, f"email-{width}-{scheme}.png")
            page.context.close()


def preview_shots(browser: Browser, root: Path) -> None:
    """The preview (desktop, light) and its Outbox tab after a test send."""
    newsletter(root, "send", "2023-07", "--test", READER)
    port = free_port()
    with serving(root, "preview", "2023-07", "--no-open", "--port", str(port), port=port) as url:
        page = new_page(browser, viewport=PAGE_SIZE)
        page.goto(url + "/")
        page.wait_for_selector("#email-frame")
        page.frame_locator("#email-frame").locator("body").wait_for()
        shoot(page, "preview.png")
        page.goto(url + "/outbox")
        page.wait_for_selector("#outbox")
        shoot(page, "preview-outbox.png")
        page.context.close()


def site_shots(browser: Browser, root: Path) -> None:
    """The subscriber pages a reader reaches from the email's footer links."""
    from newsletter.config import load_config
    from newsletter.tokens import make_token

    config = load_config(root / "newsletter.yaml")
    token = make_token(SECRET.encode(), config.list_id, READER)
    port = free_port()
    with serving(root, "serve", "--port", str(port), port=port) as url:
        page = new_page(browser, viewport={"width": 800, "height": 700})
        page.goto(f"{url}/unsubscribe?t={token}")
        shoot(page, "unsubscribe.png")
        page.goto(f"{url}/unsubscribe/preferences?t={token}")
        shoot(page, "preferences.png")
        page.context.close()


def main() -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="newsletter-shots-") as tmp:
        sample = copy_sample(Path(tmp) / "digest", preferences=False)
        newsletter(sample, "build", "2023-07")
        with_topics = copy_sample(Path(tmp) / "with-topics", preferences=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            email_shots(browser, sample / "issues" / "2023-07" / "email.html")
            preview_shots(browser, sample)
            site_shots(browser, with_topics)
            browser.close()


if __name__ == "__main__":
    main()
