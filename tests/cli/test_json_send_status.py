"""`status --json`, `send --dry-run --json` and `subscribers export --json` print what
docs/reference/json.md shows; skipped rows are summarised and all listed in a file; a dry
run asks for no password."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.smtpserver import SmtpServer

from newsletter.cli import main

from .test_json_output import documented, same_keys

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.usefixtures("backend")
def test_status_json_lists_runs_and_details_one(project: Path) -> None:
    config = str(project / "newsletter.yaml")
    with SmtpServer() as relay:
        code, _, err = run("send", "2023-07", "--config", config, "--yes", "--smtp-host", "127.0.0.1",
                           "--smtp-port", str(relay.port))
    assert code == 0, err
    code, out, _ = run("status", "--config", config, "--json")
    every = json.loads(out)
    assert code == 0 and [(r["issue"], r["kind"]) for r in every["runs"]] == [("2023-07", "real")]
    assert "problems" not in every["runs"][0]
    code, out, _ = run("status", "2023-07", "--config", config, "--json")
    one = json.loads(out)
    assert same_keys(one, documented("status --json"))
    sent = one["runs"][0]["counts"]["sent"]
    assert sent > 0 and one["runs"][0]["accepted_by"] == {f"127.0.0.1:{relay.port}": sent}


def test_send_dry_run_json_is_the_plan_and_reads_no_password(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_SMTP_PASSWORD", raising=False)
    with open(project / "newsletter.yaml", "a", encoding="utf-8") as fh:
        fh.write("smtp: {host: 127.0.0.1, port: 2525, security: none, username: digest, "
                 "password_env: NEWSLETTER_SMTP_PASSWORD}\n")
    code, out, err = run("send", "2023-07", "--config", str(project / "newsletter.yaml"), "--dry-run", "--json")
    assert code == 0, err
    plan = json.loads(out)
    assert same_keys(plan, documented("send --dry-run --json"))
    assert plan["kind"] == "real" and plan["to_send"] == plan["composed"]["messages"] > 0
    code, _, err = run("send", "2023-07", "--config", str(project / "newsletter.yaml"), "--json")
    assert code == 2 and "--json goes with --dry-run" in err


def test_many_skipped_rows_are_summarised_and_all_written_down(project: Path) -> None:
    csv = project / "subscribers.csv"
    bad = "".join(f"not-an-address-{n},Bad {n}\n" for n in range(12))
    dupes = "".join(f"Twin@Example.net,Twin {n}\n" for n in range(3))
    csv.write_text("email,name\ntwin@example.net,Twin\n" + bad + dupes, encoding="utf-8")
    code, out, err = run("send", "2023-07", "--config", str(project / "newsletter.yaml"), "--dry-run")
    assert code == 0, err
    skipped = [line for line in out.splitlines() if line.startswith("  skipped line ")]
    duplicates = [line for line in out.splitlines() if line.startswith("  duplicate line ")]
    assert len(skipped) == 5 and len(duplicates) == 3
    assert duplicates[0] == "  duplicate line 15: same address as line 2 ('Twin@Example.net'), sent once"
    assert "  ... and 7 more rows: every one, with its line, is in " in out
    listed = (project / "issues" / "2023-07" / "skipped-rows.csv").read_text().splitlines()
    assert len(listed) == 1 + 12 + 3 and listed[1].startswith("3,invalid,not-an-address-0,")
    assert (project / "issues" / "2023-07" / "skipped-rows.csv").stat().st_mode & 0o777 == 0o600


def test_subscribers_export_json_has_the_documented_keys(project: Path) -> None:
    code, out, err = run("subscribers", "export", "--config", str(project / "newsletter.yaml"), "--json")
    assert code == 0, err
    exported = json.loads(out)
    assert same_keys(exported, documented("subscribers export --json"))
    assert exported["count"] == len(exported["subscribers"]) > 0
