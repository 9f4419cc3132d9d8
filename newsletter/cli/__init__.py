"""The `newsletter` command: parses arguments and dispatches; no business logic here.

User errors (`NewsletterError`) are caught once, here, and printed as one line each
(`error: FILE:LINE: ...`) with exit code 1; `--debug` shows the traceback too.
Each command lives in its own module in this package; `main` imports a command's module
only when that command runs (click's lazy-loading pattern), so `newsletter --help` starts
at once and each command imports only the stages it uses.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from newsletter.errors import NewsletterError

__all__ = ["main"]


# command name -> "module:attribute"; the module is imported when the command is used.
COMMANDS = {
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
    "preview": "newsletter.cli.preview:preview",
    "send": "newsletter.cli.send:send",
    "serve": "newsletter.cli.unsubscribe:serve",
    "status": "newsletter.cli.status:status",
    "subscribe-form": "newsletter.cli.subscribe:subscribe_form",
    "subscribers": "newsletter.cli.subscribers:subscribers",
    "suppress": "newsletter.cli.suppress:suppress",
    "unsubscribe-server": "newsletter.cli.unsubscribe:serve",  # the old name of `serve`
}


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *COMMANDS])

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

