"""The `newsletter` command: parses arguments and dispatches; no business logic here.

User errors (`NewsletterError`) are caught once, here, and printed as one line each
(`error: FILE:LINE: ...`) with exit code 1; `--debug` shows the traceback too.
Each command lives in its own module in this package and registers itself on `main`.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

from newsletter.errors import NewsletterError

__all__ = ["main"]


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NewsletterError as exc:
            if ctx.obj and ctx.obj.get("debug"):
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


# Commands register themselves on `main` when imported.
from newsletter.cli import build as _build  # noqa: E402,F401
from newsletter.cli import dkim as _dkim  # noqa: E402,F401
from newsletter.cli import archive as _archive  # noqa: E402,F401
from newsletter.cli import unsubscribe as _unsubscribe  # noqa: E402,F401
from newsletter.cli import preview as _preview  # noqa: E402,F401
from newsletter.cli import collect as _collect  # noqa: E402,F401
from newsletter.cli import suppress as _suppress  # noqa: E402,F401
from newsletter.cli import check as _check  # noqa: E402,F401
from newsletter.cli import send as _send  # noqa: E402,F401
from newsletter.cli import status as _status  # noqa: E402,F401
from newsletter.cli import bounces as _bounces  # noqa: E402,F401
from newsletter.cli import subscribers as _subscribers  # noqa: E402,F401
