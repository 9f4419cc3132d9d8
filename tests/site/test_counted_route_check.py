"""`check` asks the site's own `/r/` route about every counted link of the built issue."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.sendkit import make_project

from newsletter.cli import main
from newsletter.daterange import parse_range
from newsletter.issue import build_issue
from newsletter.site.linkcheck import check_counted_links

pytestmark = [pytest.mark.usefixtures("token_secret"), pytest.mark.filterwarnings("ignore::DeprecationWarning")]
JULY = parse_range("2023-07", None, None)


def test_check_passes_when_every_counted_link_reaches_its_item(tmp_path: Path) -> None:
    config = make_project(tmp_path / "d", extra="tracking: {clicks: true}\n")
    result = CliRunner().invoke(main, ["check", "2023-07", "--config", str(config.path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"counted-link"' not in result.output
    assert not (config.root / "newsletter.db").exists()  # asking the route wrote no state


def test_a_counted_link_the_site_would_refuse_is_an_error(tmp_path: Path) -> None:
    config = make_project(tmp_path / "d", extra="tracking: {clicks: true}\n")
    result = build_issue(config, JULY, write=False)
    html = result.files["email.html"].decode()
    link = re.search(r'href="(https://example\.org/r/2023-07/[^"]+)"', html)
    assert link is not None
    broken = link.group(1)[:-3] + ("xyz" if not link.group(1).endswith("xyz") else "abc")
    files = {**result.files, "email.html": html.replace(link.group(1), broken).encode()}
    findings = check_counted_links(config, dataclasses.replace(result, files=files))
    assert [(f.rule, f.where) for f in findings] == [("counted-link", "email.html")]
    assert broken in findings[0].message and "404" in findings[0].message


def test_no_counted_links_no_route_check(tmp_path: Path) -> None:
    config = make_project(tmp_path / "d")
    assert check_counted_links(config, build_issue(config, JULY, write=False)) == []
