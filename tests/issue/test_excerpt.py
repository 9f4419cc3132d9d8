"""An issue too big for one email: measured as sent, and built as the short excerpt
(`clip: excerpt`, the default once there is an `archive_url`) instead of being refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.project import item_yaml

from newsletter.archive import build_archive
from newsletter.cli import main
from newsletter.config import load_config
from newsletter.daterange import parse_range
from newsletter.errors import ConfigError
from newsletter.issue.build import build_issue
from newsletter.issue.wire import CLIP_BYTES

JULY = parse_range("2023-07", None, None)
THEMES = ["Domestic abuse", "Child sexual exploitation", "Online safety", "Neglect", "Youth violence"]
SUMMARY = ('"The review draws on interviews with practitioners and families in six areas. It sets out '
           'what helps, what gets in the way, and what managers can change this year. It closes with '
           'questions for local safeguarding partners to take to their next meeting."')


def _many_items(project: Path, count: int) -> None:
    for n in range(count):
        (project / "items" / f"item{n:03}.yaml").write_text(item_yaml(
            title=f"A review of practice number {n} in child protection", date=f"2023-07-{1 + n % 28:02}",
            theme=THEMES[n % len(THEMES)], url=f"https://example.org/reviews/{n}", summary=SUMMARY), encoding="utf-8")


def _configure(project: Path, extra: str) -> Path:
    path = project / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


def _html_part(eml: bytes) -> bytes:
    """The text/html part of a message exactly as it goes over the wire (still encoded)."""
    found = re.search(rb"Content-Type: text/html[^\r\n]*\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                      rb"(.*?)\r\n--=_nl_", eml, re.S)
    assert found is not None
    return found.group(1)


def test_a_110_item_issue_builds_as_an_excerpt_under_the_clip(empty_project: Path) -> None:
    _many_items(empty_project, 110)
    path = _configure(empty_project, "archive_url: https://example.org/digest\n")
    result = CliRunner().invoke(main, ["build", "2023-07", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "built the short excerpt instead" in result.output
    folder = empty_project / "issues" / "2023-07"
    eml = (folder / "sample.eml").read_bytes()
    part = _html_part(eml)
    assert b"\r\n" in part and b"=\r\n" in part  # measured with CRLF and soft line breaks, as sent
    assert len(part) < CLIP_BYTES
    html = (folder / "email.html").read_text(encoding="utf-8")
    assert '<a href="https://example.org/digest/2023-07/" style="color:#0b5cad">View it in your browser</a>' in html
    assert "Read the full issue online" in html
    links = re.findall(r'href="https://example.org/digest/2023-07/#(item-[^"]+)"', html)
    assert len(set(links)) == len(links) == 110
    assert "https://example.org/reviews/" not in html  # each item links to the issue online, not away
    assert "It sets out" not in html  # one line per item: the teaser is the first sentence
    assert "The review draws on interviews with practitioners and families in six areas." in html
    assert re.search(r'<a href="https://example.org/unsubscribe\?t=[^"]+"[^>]*>Unsubscribe</a>', html)
    assert html.rstrip().endswith("</html>")
    text = (folder / "email.txt").read_text(encoding="utf-8")
    assert "Read the full issue online: https://example.org/digest/2023-07/" in text
    assert re.search(r"^Unsubscribe: https://example.org/unsubscribe\?t=", text, re.M)
    assert b"List-Unsubscribe: <https://example.org/unsubscribe?t=" in eml
    manifest = (folder / "manifest.json").read_text(encoding="utf-8")
    assert '"excerpt": true' in manifest and '"rule": "clip-excerpt"' in manifest

    build_archive(load_config(path), empty_project / "site")  # each link lands on its item online
    page = (empty_project / "site" / "2023-07" / "index.html").read_text(encoding="utf-8")
    assert all(f'id="{anchor}"' in page for anchor in links)


def test_clip_refuse_keeps_failing_the_build(empty_project: Path) -> None:
    _many_items(empty_project, 110)
    path = _configure(empty_project, "archive_url: https://example.org/digest\nclip: refuse\n")
    result = CliRunner().invoke(main, ["build", "2023-07", "--config", str(path)])
    assert result.exit_code == 1
    assert re.search(r"^error: .*email\.html: the email is \d+ KB as sent; Gmail clips it", result.output, re.M)


def test_without_an_archive_the_build_refuses(empty_project: Path) -> None:
    _many_items(empty_project, 110)
    config = load_config(empty_project / "newsletter.yaml")
    assert config.clip_mode == "refuse"
    result = build_issue(config, JULY, write=False)
    assert not result.rendered.excerpt
    assert [f.rule for f in result.findings if f.severity == "error"] == ["html-size"]


def test_an_issue_that_fits_is_never_shortened(config) -> None:
    config = load_config(_configure(config.root, "archive_url: https://example.org/digest\n"))
    rendered = build_issue(config, JULY, write=False).rendered
    assert config.clip_mode == "excerpt" and not rendered.excerpt
    assert "View it in your browser" in rendered.html and "Read the full issue online" not in rendered.html


@pytest.mark.parametrize(("value", "message"), [
    ("excerpt", "clip: the excerpt links to the full issue online, and there is no `archive_url`"),
    ("shorten", "clip: must be excerpt or refuse, not 'shorten'"),
])
def test_clip_values_are_checked(empty_project: Path, value: str, message: str) -> None:
    path = _configure(empty_project, f"clip: {value}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
