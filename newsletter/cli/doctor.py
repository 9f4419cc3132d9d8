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
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts and monitoring (docs: JSON output).")
def doctor(config_path: Path, online: bool, nameserver: str | None, no_relay: bool, as_json: bool) -> None:
    """Check DNS (SPF, DMARC, DKIM, alignment), the relay and the unsubscribe page before going live.

    One line per finding; exit 1 if any is an error. Connects to the relay and logs in
    as `send` would, but sends no message.

    \b
    Example:
      newsletter doctor
      newsletter doctor --online                  # probe https://.../unsubscribe too
      newsletter doctor --nameserver 10.0.0.2     # ask the internal DNS server
      newsletter doctor --json --no-relay         # for monitoring
    """
    from newsletter.golive import run_doctor

    config = load(config_path)
    found = run_doctor(config, nameserver=nameserver, online=online, relay=not no_relay)
    errors = sum(d.level == "error" for d in found)
    warnings = sum(d.level == "warning" for d in found)
    if as_json:
        import json

        click.echo(json.dumps({"ready": not errors, "errors": errors, "warnings": warnings,
                               "findings": [{"level": d.level, "topic": d.topic, "message": d.message,
                                             "hint": d.hint} for d in found]}, indent=2))
        sys.exit(1 if errors else 0)
    for diagnosis in found:
        click.echo(diagnosis.line())
    verdict = "ready to go live" if not errors else "fix the errors above before sending"
    click.echo(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}: {verdict}")
    sys.exit(1 if errors else 0)
