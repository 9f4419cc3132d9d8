"""`newsletter init` and `newsletter new`, run as a user runs them: in a subprocess, in a temp folder."""

from __future__ import annotations

import datetime as dt
import mailbox
import os
import shutil
import subprocess
import sys
from pathlib import Path

from newsletter.config import load_config
from newsletter.issue import load_items

REPO = Path(__file__).resolve().parents[2]


def newsletter(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess without a terminal and without the test's token secret."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    return subprocess.run([sys.executable, "-m", "newsletter", *args], cwd=cwd, capture_output=True, text=True,
                          env={**base, "PYTHONPATH": str(REPO), **(env or {})}, timeout=120, check=False)


def last_month() -> str:
    return (dt.date.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")


def test_init_then_build_and_send_into_the_outbox(tmp_path: Path) -> None:
    made = newsletter("init", "my-digest", "--name", "Parish news", "--from", "Parish office <news@parish.example>",
                      "--themes", "Services, Events ,Notices", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "my-digest"
    assert f"newsletter build {last_month()}" in made.stdout
    config = load_config(folder / "newsletter.yaml")
    assert (config.name, config.sender, config.themes) == (
        "Parish news", "Parish office <news@parish.example>", ("Services", "Events", "Notices"))
    assert (folder / ".newsletter-secret").stat().st_mode & 0o777 == 0o600
    ignored = (folder / ".gitignore").read_text().splitlines()
    assert {"newsletter.db", "outbox/", ".newsletter-secret"} <= set(ignored)
    assert {p.name for p in (folder / "templates").iterdir()} == {"README.md", "email.html", "email.txt", "email.css"}
    assert "{% block content %}" in (folder / "templates" / "README.md").read_text()

    built = newsletter("build", last_month(), cwd=folder)
    assert built.returncode == 0, built.stderr
    # the starter items are placeholders: check says so, a rehearsal into the outbox still goes
    assert "3 items in 3 themes" in built.stdout and "Checks: 3 errors, 0 warnings" in built.stdout
    checked = newsletter("check", last_month(), "--format", "text", cwd=folder)
    assert checked.returncode == 1
    assert checked.stdout.count("error placeholder:") == 3, checked.stdout
    sent = newsletter("send", last_month(), "--yes", cwd=folder)
    assert sent.returncode == 0, sent.stderr
    assert "3 placeholders in the issue; fine for a rehearsal on this machine" in sent.stderr
    received = sorted(m["To"] for m in mailbox.Maildir(folder / "outbox", create=False))
    assert received == ["Alex Morgan <alex.morgan@example.org>", "Sam Okafor <sam.okafor@example.org>"]
    assert "Made a token secret" not in sent.stderr  # init made it; send reads the same file


def test_init_refuses_a_folder_with_files_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    refused = newsletter("init", ".", cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: .: the folder is not empty (choose a new folder, or add --force")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    forced = newsletter("init", ".", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert load_config(tmp_path / "newsletter.yaml").themes == ("News", "Reports", "Events")  # the defaults


def test_init_names_a_bad_sender(tmp_path: Path) -> None:
    result = newsletter("init", "d", "--from", "not an address", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "error: --from: not an email address: 'not an address' " \
                            '(write it as "Name <addr@example.org>")\n'
    assert not (tmp_path / "d").exists()


def test_new_writes_an_item_that_loads_with_every_field(tmp_path: Path) -> None:
    assert newsletter("init", "d", "--themes", "Policy,Practice", cwd=tmp_path).returncode == 0
    folder = tmp_path / "d"
    result = newsletter("new", "Annual report: what's new?", cwd=folder, env={"EDITOR": "false"})
    assert result.returncode == 0, result.stderr
    today = dt.date.today()
    path = folder / "items" / f"{today.isoformat()}-annual-report-what-s-new.yaml"
    assert result.stdout.startswith(f"Wrote {path.relative_to(folder)}: the ")
    text = path.read_text()
    for field in ("see_also:", "image:", "alt:", "# one of: Policy, Practice"):
        assert field in text
    [item] = [i for i in load_items(folder / "items") if i.date == today]
    assert (item.title, item.theme, item.links[0].title) == ("Annual report: what's new?", "Policy",
                                                              "Annual report: what's new?")
    again = newsletter("item", "new", "Annual report: what's new?", cwd=folder)
    assert again.returncode == 0
    assert path.with_name(path.stem + "-2.yaml").exists()  # never overwrites


def test_init_offers_the_daily_collect_and_remind_timers_commented(tmp_path: Path) -> None:
    made = newsletter("init", "digest", "--name", "Digest", "--from", "Office <news@example.org>",
                      "--themes", "News", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "digest"
    crontab = (folder / "timers" / "crontab.txt").read_text()
    assert all(line.startswith("#") for line in crontab.splitlines())  # offered, not active
    assert "collect --since" in crontab and "-m newsletter remind" in crontab and str(folder) in crontab
    config = (folder / "newsletter.yaml").read_text()
    assert "# approval:" in config and "#   remind_on: 25" in config
    units = [folder / "timers" / "newsletter-daily.service", folder / "timers" / "newsletter-daily.timer"]
    if shutil.which("systemd-analyze"):
        verify = subprocess.run(["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True,
                                timeout=60)
        assert verify.returncode == 0 and str(folder) not in verify.stderr, verify.stderr


def test_a_send_through_a_relay_refuses_the_starter_placeholders_before_connecting(tmp_path: Path) -> None:
    newsletter("init", "my-digest", "--name", "Parish news", "--from", "Parish office <news@parish.example>",
               cwd=tmp_path)
    folder = tmp_path / "my-digest"
    with (folder / "newsletter.yaml").open("a", encoding="utf-8") as fh:
        fh.write("smtp: {host: smtp.parish.example, port: 587, security: starttls}\n")
    refused = newsletter("send", last_month(), "--yes", cwd=folder)
    assert refused.returncode == 1
    errors = refused.stderr.splitlines()
    placeholders = [line for line in errors if ": placeholder: " in line]
    assert sum("still has placeholder text" in line for line in placeholders) == 3, refused.stderr  # the items
    assert any(line.startswith("error: newsletter.yaml:5: placeholder: from still uses parish.example")
               for line in placeholders), refused.stderr  # and the settings on a reserved example domain
    assert errors[-1].startswith(f"error: not sending: `newsletter check` found {len(placeholders)} errors")
    assert "Connecting" not in refused.stdout and not (folder / "outbox").exists()


def test_init_writes_the_organisations_identity_it_is_given(tmp_path: Path) -> None:
    made = newsletter("init", "digest", "--name", "Parish news", "--from", "Parish office <news@parish.example>",
                      "--organisation", "St Mary's Parish", "--address", "1 Church Lane, Oxbridge OX1 1AA",
                      "--website", "https://stmarys.example", "--accent", "#6b2c91", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "postal address" not in made.stdout  # nothing left to fill in
    config = load_config(tmp_path / "digest" / "newsletter.yaml")
    assert config.organisation is not None
    assert (config.organisation.name, config.organisation.address, config.organisation.contact) == (
        "St Mary's Parish", "1 Church Lane, Oxbridge OX1 1AA", "https://stmarys.example")
    assert config.colors.accent == "#6b2c91"
    built = newsletter("build", last_month(), cwd=tmp_path / "digest")
    html = next((tmp_path / "digest" / "issues").glob("*/email.html")).read_text()
    assert built.returncode == 0, built.stderr
    assert "1 Church Lane, Oxbridge OX1 1AA" in html and "St Mary" in html


def test_init_without_an_identity_writes_it_commented_and_says_what_is_left(tmp_path: Path) -> None:
    made = newsletter("init", "digest", "--name", "Parish news", "--from", "Parish office <news@parish.example>",
                      cwd=tmp_path)
    assert "your postal address under organisation: in newsletter.yaml" in made.stdout
    text = (tmp_path / "digest" / "newsletter.yaml").read_text()
    assert "# organisation:" in text and "#   address:" in text and "#   name: Parish news" in text
    assert load_config(tmp_path / "digest" / "newsletter.yaml").organisation is None


def test_init_refuses_a_bad_website_or_colour(tmp_path: Path) -> None:
    bad = newsletter("init", "a", "--website", "http://parish.example", "--accent", "purple", cwd=tmp_path)
    assert bad.returncode == 1 and bad.stderr.startswith("error: --website: not an https address")
    assert not (tmp_path / "a").exists()
