"""`newsletter report MONTH`: the figures of a real send, the counted clicks per item and
theme (small counts hidden), month by month."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from support.clickkit import READERS, Clicked

from newsletter.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _report(clicked: Clicked, *args: str) -> str:
    result = CliRunner().invoke(main, ["report", "2023-07", "--config", str(clicked.sent.config.path), *args],
                                catch_exceptions=False, terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_json_report_counts_clicks_per_item_and_theme(clicked: Clicked) -> None:
    data = json.loads(_report(clicked, "--json"))
    issue = data["issue"]
    assert (issue["list_size"], issue["delivered"], issue["failed"]) == (len(READERS), len(READERS), 0)
    assert issue["unsubscribed"] == 1 and issue["clicks"] == 22
    items = {i["title"]: i for i in data["items"]}
    assert len(items) == 12
    counted = sorted((i["clicks"], i["clicks_shown"]) for i in items.values() if i["clicks"])
    assert counted == [(2, "fewer than 5"), (20, "20")]  # the scanner's sweep counted nowhere
    themes = data["themes"]
    assert sum(t["clicks"] for t in themes) == 22
    assert sum(t["issue_share"] for t in themes) == pytest.approx(1, abs=1e-3)
    top = max(themes, key=lambda t: t["clicks"])
    assert top["click_share"] == pytest.approx(20 / 22, abs=1e-3) and top["issue_share"] == pytest.approx(2 / 12, abs=1e-3)
    assert [h["slug"] for h in data["history"]] == ["2023-07"]


def test_the_printed_report_hides_small_counts(clicked: Clicked) -> None:
    out = _report(clicked)
    assert "List 6: delivered 6" in out
    assert "Unsubscribed after this issue: 1" in out
    assert "fewer than 5" in out and " 20 " in out
    assert "Month by month" in out


def test_a_month_never_sent_is_one_line_error(clicked: Clicked) -> None:
    result = CliRunner().invoke(main, ["report", "2023-09", "--config", str(clicked.sent.config.path)])
    assert result.exit_code == 1
    assert "no send run for 2023-09" in result.output and "Traceback" not in result.output
