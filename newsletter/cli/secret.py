"""Telling the user, once, that a token secret was just made for them (tokens.py makes it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from newsletter.config import Config

__all__ = ["say_if_secret_made"]


def say_if_secret_made(config: Config) -> None:
    """Make `.newsletter-secret` when no secret is set, and say so the one time it happens."""
    from newsletter.tokens import new_secret_file

    made = new_secret_file(config)
    if made is not None:
        click.echo(f"Made a token secret in {made} (mode 0600): unsubscribe links are signed with it and the "
                   "subscriber site reads it. Keep it, back it up, keep it out of version control.", err=True)
