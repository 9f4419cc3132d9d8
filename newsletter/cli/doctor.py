"""`newsletter doctor`: the go-live check (golive/doctor.py does the checking)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from newsletter.cli.options import config_option, load

__all__ = ["doctor"]


@click.command()
@config_option
@click.option("--online", is_flag=True,
              help="Also probe the public unsubscribe page: a GET and a one-click POST that unsubscribes nobody.")
@click.option("--nameserver", metavar="HOST[:PORT]", envvar="NEWSLETTER_NAMESERVER",
              help="Ask this DNS server instead of the system's (split DNS); $NEWSLETTER_NAMESERVER too.")
@click.option("--no-relay", is_flag=True, help="Do not connect to the relay.")
def doctor(config_path: Path, online: bool, nameserver: str | None, no_relay: bool) -> None:
    """Check DNS (SPF, DMARC, DKIM, alignment), the relay and the unsubscribe page before going live.

    One line per finding; exit 1 if any is an error. Connects to the relay and logs in
    as `send` would, but sends no message.

    \b
    Example:
      newsletter doctor
      newsletter doctor --online                  # probe https://.../unsubscribe too
      newsletter doctor --nameserver 10.0.0.2     # ask the internal DNS server
    """
    from newsletter.golive import run_doctor

    config = load(config_path)
    found = run_doctor(config, nameserver=nameserver, online=online, relay=not no_relay)
    for diagnosis in found:
        click.echo(diagnosis.line())
    errors = sum(d.level == "error" for d in found)
    warnings = sum(d.level == "warning" for d in found)
    verdict = "ready to go live" if not errors else "fix the errors above before sending"
    click.echo(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}: {verdict}")
    sys.exit(1 if errors else 0)
