"""Without a month, `build`, `check` and `send` take the issue the newest unsent items need,
and say which; `new` says which issue will include the item; a malformed month is bad usage."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.project import item_yaml

from newsletter import journal
from newsletter.cli import main
from newsletter.config import load_config


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_build_without_a_month_picks_up_a_new_item(project: Path) -> None:
    config = str(project / "newsletter.yaml")
    code, out, err = run("build", "--config", config)
    assert code == 0, err
    # the sample's newest items are August 2023's, and nothing has been sent
    assert err.splitlines()[0].startswith("No month given: 2023-08, the month of the newest item not sent yet (items/")
    assert out.startswith("Built August 2023:")
    today = dt.date.today()
    (project / "items" / "new.yaml").write_text(item_yaml(date=today.isoformat(), url="https://example.org/new"))
    code, out, err = run("build", "--config", config)
    assert code == 0, err
    assert err.splitlines()[0] == (f"No month given: {today:%Y-%m}, the month of the newest item not sent yet "
                                   f"(items/new.yaml, {today.isoformat()}).")
    assert out.startswith(f"Built {today:%B %Y}: 1 item")


def test_a_month_already_sent_is_passed_over(project: Path) -> None:
    config = load_config(project / "newsletter.yaml")
    db = journal.connect(config.state)
    journal.open_run(db, "2023-08", subject="s", digest="d", subscribers="subscribers.csv")
    db.close()
    code, _, err = run("check", "--config", str(project / "newsletter.yaml"), "--format", "text")
    assert err.splitlines()[0].startswith("No month given: 2023-07, the month of the newest item not sent yet")
    months = sorted({path.name[:7] for path in (project / "items").glob("*.yaml")})
    journal_db = journal.connect(config.state)
    for month in months:
        journal.open_run(journal_db, month, subject="s", digest="d", subscribers="subscribers.csv")
    journal_db.close()
    code, out, err = run("check", "--config", str(project / "newsletter.yaml"), "--format", "text")
    last = (dt.date.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    assert err.splitlines()[0] == f"No month given: {last}, the last full month (every item has been sent)."


def test_new_says_which_issue_includes_the_item(project: Path) -> None:
    code, out, _ = run("new", "A briefing on neglect", "--config", str(project / "newsletter.yaml"), "--no-edit")
    today = dt.date.today()
    assert code == 0
    assert out.strip().endswith(f": the {today:%B %Y} issue includes it (`newsletter build {today:%Y-%m}`)")


@pytest.mark.parametrize("args", [["build", "2023-13"], ["check", "July"], ["build", "--since", "2023-02-30"]])
def test_a_malformed_month_or_date_is_bad_usage(project: Path, args: list[str]) -> None:
    code, _, err = run(*args, "--config", str(project / "newsletter.yaml"))
    assert code == 2
    assert "Usage:" in err and "Invalid value" in err
