"""`newsletter init DIR`: a working newsletter folder a comms officer can make their own.

It writes the config, starter items dated in the last full month (so `build` and
`send --yes` work at once, into the local outbox), an example subscriber list, the
templates worth customising (copies of the bundled ones), a `.gitignore` that keeps the
state, the outbox, private files and secrets out of version control, and the token
secret (mode 0600). Nothing is overwritten: a non-empty folder is refused unless
`force`, and then only missing files are written.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
import sys
import textwrap
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from newsletter.errors import ConfigError
from newsletter.issue import DEFAULT_TEMPLATES
from newsletter.start.settings import commented_settings, section_text
from newsletter.tokens import SECRET_FILE, create_secret_file

__all__ = ["DEFAULT_THEMES", "FolderPlan", "StartedFolder", "default_name", "init_folder", "last_full_month",
           "timer_files"]

DEFAULT_THEMES = ("News", "Reports", "Events")
CUSTOMISABLE = ("email.html", "email.txt", "email.css")

GITIGNORE = """\
# Written by `newsletter init`: what stays out of version control.
# The state file: who was sent what, suppressions, consent.
newsletter.db
newsletter.db-*
# The local outbox (messages as sent, with subscriber addresses).
outbox/
# Private files in built issues: addresses that failed.
issues/*/failures*.csv
# Secrets: the token secret signs unsubscribe links; keys and passwords never go in git.
.newsletter-secret
*.key
*.pem
.env
newsletter.env
# Working files.
.newsletter-send.lock
.feeds-cache.json
"""

SUBSCRIBERS = """\
email,name,status,themes
alex.morgan@example.org,Alex Morgan,subscribed,
sam.okafor@example.org,Sam Okafor,subscribed,{theme}
former.reader@example.org,Former Reader,unsubscribed,
"""

TEMPLATES_README = """\
# Your templates

`newsletter build` and `newsletter preview` look here first, then at the bundled
templates, by file name. Edit these copies to change the email; delete one to go back
to the bundled version (and get its improvements with each upgrade).

- `email.html` fills `{% block content %}` of the bundled `email_layout.html`, which
  keeps the 600 px table layout, the Outlook ghost tables, the preheader and the footer.
  Change the greeting, the contents list or how an item looks here.
- `email.txt` is the plain-text part: keep every link written out.
- `email.css` is inlined into every element when the issue is built; rules under
  `@media` (mobile, dark mode) stay in `<style>`.

Other bundled templates (`email_layout.html`, `archive/`, `unsubscribe/`,
`preferences/`) can be overridden the same way: copy the file from the package's
`templates/` folder to the same path here.
"""


@dataclass(frozen=True)
class FolderPlan:
    """What the new newsletter is called, who sends it and its themes in display order."""

    name: str
    sender: str
    themes: tuple[str, ...] = DEFAULT_THEMES
    # who sends it, for every footer; empty = written commented out, for the officer to fill in
    organisation: str = ""
    address: str = ""  # the postal address bulk mail must carry
    website: str = ""  # https://...: the footer's contact link and the logo's likely home
    accent: str = ""  # "#rrggbb", the brand colour


@dataclass
class StartedFolder:
    """What `init_folder` wrote (relative paths), and what it left because it was there."""

    folder: Path
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    month: str = ""


def default_name(folder: Path) -> str:
    """`my-digest` -> "My digest": a name to start from when none is given."""
    words = re.sub(r"[-_.]+", " ", folder.resolve().name).strip()
    return (words[:1].upper() + words[1:]) if words else "Our newsletter"


def last_full_month(today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of the month before `today`'s."""
    last = today.replace(day=1) - dt.timedelta(days=1)
    return last.replace(day=1), last


def init_folder(folder: Path, plan: FolderPlan, /, *, today: dt.date | None = None,
                force: bool = False) -> StartedFolder:
    """Write a working newsletter folder; refuse a non-empty one unless `force`."""
    _check_plan(plan)
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError("exists and is not a folder", path=folder, hint="choose another name")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise ConfigError("the folder is not empty", path=folder,
                          hint="choose a new folder, or add --force to add only the files that are missing")
    start, _ = last_full_month(today or dt.date.today())
    result = StartedFolder(folder=folder, month=start.strftime("%Y-%m"))
    files = {
        "newsletter.yaml": config_text(plan),
        "subscribers.csv": SUBSCRIBERS.format(theme=plan.themes[min(1, len(plan.themes) - 1)]),
        ".gitignore": GITIGNORE,
        "templates/README.md": TEMPLATES_README,
        **{f"items/{name}": text for name, text in starter_items(plan, start).items()},
        **{f"templates/{name}": (DEFAULT_TEMPLATES / name).read_text(encoding="utf-8") for name in CUSTOMISABLE},
        **timer_files(folder.resolve()),
    }
    for relative, text in files.items():
        _write_new(folder, relative, text, result)
    (folder / "issues").mkdir(exist_ok=True)
    secret = folder / SECRET_FILE
    (result.written if create_secret_file(secret) else result.kept).append(SECRET_FILE)
    return result


def timer_files(folder: Path) -> dict[str, str]:
    """The daily collect-and-remind job, offered and left off: a commented crontab and a
    systemd timer to copy in. Nothing here sends the issue (that is `newsletter schedule`)."""
    run = f"{shlex.quote(sys.executable)} -m newsletter"
    daily = (f"cd {shlex.quote(str(folder))} && {run} collect --since \"$(date +%Y-%m-01)\" "
             f"--until \"$(date +%F)\" >> collect.log 2>&1; {run} remind >> collect.log 2>&1")
    crontab = ("# Offered by `newsletter init`, not installed. To use it: `crontab -e` and paste the\n"
               "# line below without its leading '# '. Every day at 06:00 it collects this month's items so\n"
               "# far, then `newsletter remind` mails the reviewers on `approval.remind_on` (set it in\n"
               "# newsletter.yaml). Sending is `newsletter schedule MONTH --at ...` after an approval.\n"
               f"# 0 6 * * * {daily.replace('%', chr(92) + '%')}\n")
    unit = ("# Offered by `newsletter init`, not installed. To use it: copy this file and the .timer\n"
            "# into ~/.config/systemd/user/, then\n"
            "#   systemctl --user daemon-reload && systemctl --user enable --now newsletter-daily.timer\n"
            "[Unit]\nDescription=Collect the newsletter's items, and remind the reviewers on the day\n\n"
            "[Service]\nType=oneshot\n"
            f"WorkingDirectory={str(folder).replace('%', '%%')}\n"
            f"ExecStart=/bin/sh -c {shlex.quote(daily.replace('%', '%%').replace('$', '$$'))}\n")
    timer = ("# Offered by `newsletter init` (see newsletter-daily.service).\n"
             "[Unit]\nDescription=Every day at 06:00: collect, and remind on the day\n\n"
             "[Timer]\nOnCalendar=*-*-* 06:00:00\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n")
    return {"timers/crontab.txt": crontab, "timers/newsletter-daily.service": unit,
            "timers/newsletter-daily.timer": timer}


def _check_plan(plan: FolderPlan) -> None:
    """The same rules the config loader applies, caught before anything is written."""
    if not plan.name.strip() or any(c in plan.name for c in "\r\n"):
        raise ConfigError("the name must be one line of text", field="--name")
    address = parseaddr(plan.sender)[1]
    if "@" not in address or any(c in plan.sender for c in "\r\n"):
        raise ConfigError(f"not an email address: {plan.sender!r}", field="--from",
                          hint='write it as "Name <addr@example.org>"')
    if not plan.themes or any(not t.strip() for t in plan.themes):
        raise ConfigError("give at least one theme", field="--themes", hint='e.g. --themes "News,Reports,Events"')
    for value, option in ((plan.organisation, "--organisation"), (plan.address, "--address")):
        if any(c in value for c in "\r\n"):
            raise ConfigError("must be one line of text", field=option, hint="separate address lines with commas")
    if plan.website and (urlsplit(plan.website).scheme != "https" or not urlsplit(plan.website).hostname):
        raise ConfigError(f"not an https address: {plan.website!r}", field="--website", hint="e.g. https://example.org")
    if plan.accent and not re.fullmatch(r"#[0-9a-fA-F]{6}", plan.accent):
        raise ConfigError(f"not a colour: {plan.accent!r}", field="--accent", hint="write it as #rrggbb, e.g. #6b2c91")


def _write_new(folder: Path, relative: str, text: str, result: StartedFolder) -> None:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "x", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    except FileExistsError:
        result.kept.append(relative)
        return
    result.written.append(relative)


def _quoted(value: str) -> str:
    """A YAML scalar on one line, quoted only when it has to be."""
    return yaml.safe_dump(value, default_style=None, width=1000, allow_unicode=True).removesuffix("\n...\n").strip()


# The keys `config_text` writes out with the plan's values; every other key follows,
# commented, from the key table (settings.py).
ACTIVE = ("name", "from", "subject", "language", "intro", "themes", "unsubscribe", "organisation", "colors")


def config_text(plan: FolderPlan) -> str:
    """`newsletter.yaml`, commented: what a comms officer changes before going live, then
    every other setting with its default, ready to uncomment."""
    domain = parseaddr(plan.sender)[1].rpartition("@")[2]
    themes = "\n".join(f"  - {_quoted(t)}" for t in plan.themes)
    return f"""\
# {plan.name}: made by `newsletter init`. Items go in items/, one YAML file each
# (`newsletter new "Title"` starts one). Build and send a month with
#   newsletter build YYYY-MM      newsletter send YYYY-MM
name: {_quoted(plan.name)}
from: {_quoted(plan.sender)}
subject: "{{name}}: what's new in {{period}}"
language: en-GB
intro: >-
  Here is our round-up of what was published this month.
themes:            # the order sections appear in; every item names one of these
{themes}
unsubscribe:       # served by `newsletter serve`; must be https when live
  url: "https://{domain}/unsubscribe"
  mailto: "unsubscribe@{domain}"
{brand_text(plan, domain)}#
# Every other setting follows, commented out, with its default (or an example): remove
# the "# " at the start of a line to use it. docs/reference/config.md explains each.
""" + commented_settings(ACTIVE, _quoted, domain=domain, theme=plan.themes[0],
                         examples={"reply_to": _quoted(plan.sender)})


def brand_text(plan: FolderPlan, domain: str) -> str:
    """The organisation and brand colour: written out where `init` was told them, commented
    out with every key where not, so the first issue's footer is never anonymous by
    oversight (`check` warns when a relay send has no postal address)."""
    org: dict[str, str] = {}
    if plan.organisation or plan.address or plan.website:
        org["name"] = _quoted(plan.organisation or plan.name)
        org |= {"address": _quoted(plan.address)} if plan.address else {}
        org |= {"contact": _quoted(plan.website)} if plan.website else {}
    colors = {"accent": _quoted(plan.accent)} if plan.accent else {}
    return ("# Who you are, in the footer of every email and page: bulk mail must carry a postal\n"
            "# address (Gmail and Yahoo's sender rules, CAN-SPAM, the ICO's PECR guidance).\n"
            + section_text("organisation", org, _quoted, domain=domain, examples={"name": _quoted(plan.name)})
            + section_text("colors", colors, _quoted, domain=domain))


_STARTERS = (
    (4, "Welcome to the first issue", "Our team",
     "This is a starter item made by `newsletter init`. Replace it with your own news: "
     "a title, a date in the month of the issue, where it comes from, a short summary and "
     "one or more links.", "Read the announcement", "About this newsletter", "about"),
    (12, "A report worth reading", "Example Research Centre",
     "A second starter item, in another theme. Summaries are Markdown: **bold**, *italic* "
     "and [links](https://example.org/) work; raw HTML is not passed through.",
     "Read the report", "An example report", "reports/example"),
    (20, "Dates for your diary", "Our team",
     "A third starter item. Delete the starter items once you have written your own: "
     "`newsletter build` only takes items dated in the month you build.",
     "See the events", "Upcoming events", "events"),
)


def starter_items(plan: FolderPlan, month_start: dt.date) -> dict[str, str]:
    """Two or three items dated in `month_start`'s month, spread over the themes."""
    domain = parseaddr(plan.sender)[1].rpartition("@")[2]
    files = {}
    for n, (day, title, source, summary, label, link_title, path) in enumerate(_STARTERS):
        date = month_start.replace(day=day)
        theme = plan.themes[n % len(plan.themes)]
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        files[f"{date.isoformat()}-{slug}.yaml"] = "\n".join([
            f"title: {_quoted(title)}",
            f"date: {date.isoformat()}",
            f"source: {_quoted(source)}",
            f"theme: {_quoted(theme)}",
            "summary: |",
            *(f"  {line}" for line in _wrap(summary)),
            "links:",
            f"  - label: {_quoted(label)}",
            f"    title: {_quoted(link_title)}",
            f"    url: https://{domain}/{path}",
            "",
        ])
    return files


def _wrap(text: str, width: int = 86) -> list[str]:
    return textwrap.wrap(text, width) or [""]
