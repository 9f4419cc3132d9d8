"""The `newsletter` click group: the command table, the `--help` sections, the one place
user errors are caught and printed, and the console-script entry point.

User errors (`NewsletterError`) are caught once, here, and printed as one line each
(`error: FILE:LINE: ...`) with exit code 1; `--debug` shows the traceback too. A command's
module is imported only when that command runs (click's lazy-loading pattern), so
`newsletter --help` starts at once and each command imports only the stages it uses.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from newsletter.errors import NewsletterError

__all__ = ["ALIASES", "COMMANDS", "DESCRIPTIONS", "GROUPS", "help_sections", "main"]


# command name -> "module:attribute"; the module is imported when the command is used.
COMMANDS = {
    "approve": "newsletter.cli.approve:approve",
    "archive": "newsletter.cli.archive:archive",
    "bounces": "newsletter.cli.bounces:bounces",
    "build": "newsletter.cli.build:build",
    "check": "newsletter.cli.check:check",
    "collect": "newsletter.cli.collect:collect_command",
    "dkim": "newsletter.cli.dkim:dkim",
    "doctor": "newsletter.cli.doctor:doctor",
    "init": "newsletter.cli.init:init",
    "item": "newsletter.cli.new:item",
    "new": "newsletter.cli.new:new",
    "person": "newsletter.cli.person:person",
    "preview": "newsletter.cli.preview:preview",
    "remind": "newsletter.cli.remind:remind",
    "report": "newsletter.cli.report:report",
    "schedule": "newsletter.cli.schedule:schedule",
    "send": "newsletter.cli.send:send",
    "serve": "newsletter.cli.unsubscribe:serve",
    "state": "newsletter.cli.state:state",
    "status": "newsletter.cli.status:status",
    "subscribe-form": "newsletter.cli.subscribe:subscribe_form",
    "subscribers": "newsletter.cli.subscribers:subscribers",
    "suppress": "newsletter.cli.suppress:suppress",
    "unsubscribe-server": "newsletter.cli.unsubscribe:serve",  # the old name of `serve`
}

# `newsletter --help` lists the commands in the order of the work, one section per step.
# A name not (yet) in COMMANDS is skipped; a registered command in no section goes under
# "other", so adding a command never hides it.
GROUPS = {
    "Start": ["init", "new", "collect"],
    "Make": ["build", "check", "preview"],
    "Send": ["approve", "send", "schedule", "remind", "status", "report", "doctor", "state"],
    "Audience": ["serve", "subscribe-form", "suppress", "bounces", "subscribers", "person"],
    "Publish": ["archive"],
    "Keys": ["dkim"],
}
# old name -> new name: the old one is listed only while the new one is not registered.
ALIASES = {"unsubscribe-server": "serve", "item": "new"}  # `item new` is `new`
# The one-line descriptions `--help` shows, so listing needs no command module imported;
# a command missing here falls back to its own short help (which imports its module).
DESCRIPTIONS = {
    "init": "Create a newsletter folder: config, sample items, templates.",
    "new": "Write a new item file to fill in.",
    "collect": "Turn feeds and spreadsheets into item files for a month.",
    "build": "Build a month's issue into issues/<month>/.",
    "check": "Check an issue for problems before sending it.",
    "preview": "Show an issue in the browser, rebuilt as you edit.",
    "approve": "Approve an issue exactly as built, for a scheduled send.",
    "send": "Send an issue to the subscribers; run again to resume.",
    "schedule": "Send an approved issue at a set time (timer or cron).",
    "remind": "Mail reviewers a test copy and the approval link.",
    "status": "Show how a send run went, recipient by recipient.",
    "report": "Report on an issue: reach, opt-outs, sign-ups, clicks.",
    "doctor": "Check the setup: config, SMTP, DNS, keys.",
    "state": "Show, upgrade or move the state (SQLite or PostgreSQL).",
    "serve": "Run the subscriber site: unsubscribe and topics pages.",
    "subscribe-form": "Write the HTML sign-up form for your website.",
    "suppress": "Manage the addresses that are never mailed.",
    "bounces": "Read delivery failures and suppress dead addresses.",
    "subscribers": "Export the subscriber list as send sees it.",
    "person": "Show or erase what is held about one address.",
    "archive": "Write the static web archive of every issue.",
    "dkim": "Create the DKIM key that send signs with.",
}


def help_sections(registered: list[str]) -> list[tuple[str, list[str]]]:
    """The `--help` sections: (title, command names), in the order of the work."""
    names = set(registered)
    shown = {name for name in names if ALIASES.get(name) not in names}
    sections = [(title, [n for n in members if n in shown]) for title, members in GROUPS.items()]
    grouped = {n for _, members in sections for n in members}
    sections.append(("Other", sorted(n for n in shown - grouped if not n.startswith("_"))))
    return [(title, members) for title, members in sections if members]


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command once: an old name (`unsubscribe-server`) still runs, but is not listed
        beside its new one (in `--help` and in the generated command reference)."""
        names = {*super().list_commands(ctx), *COMMANDS}
        return sorted(n for n in names if ALIASES.get(n) not in names)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Commands in sections, each with its one-line description (no module imported)."""
        sections = help_sections(self.list_commands(ctx))
        width = max((len(n) for _, names in sections for n in names), default=0)
        for title, names in sections:
            rows = []
            for name in names:
                text = DESCRIPTIONS.get(name)
                if text is None:
                    command = self.get_command(ctx, name)
                    if command is None or command.hidden:
                        continue
                    text = command.get_short_help_str(limit=formatter.width)
                rows.append((name.ljust(width), text))
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = COMMANDS[cmd_name].split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NewsletterError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                import traceback  # only on an error, so --help does not pay for it

                traceback.print_exc()
            for line in exc.lines():
                click.echo(f"error: {line}", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, envvar="NEWSLETTER_DEBUG", help="Show tracebacks for errors.")
@click.version_option(package_name="newsletter")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Build, preview and send a monthly email digest.

    \b
    Example:
      newsletter build 2023-07      # build July 2023 into issues/2023-07/
      newsletter preview 2023-07    # look at it in the browser
      newsletter send 2023-07       # send it to subscribers.csv
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def run() -> None:
    """Console-script entry point."""
    if os.name != "nt" and sys.stdout.encoding and sys.stdout.encoding.lower() not in ("utf-8", "utf8"):
        sys.stdout.reconfigure(errors="replace")  # type: ignore[union-attr]
    main(prog_name="newsletter")

