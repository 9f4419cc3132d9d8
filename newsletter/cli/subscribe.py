"""`newsletter subscribe-form`: print the sign-up form as HTML to paste into a website."""

from __future__ import annotations

from pathlib import Path

import click

from newsletter.cli.options import config_option, load

__all__ = ["subscribe_form"]


@click.command("subscribe-form")
@config_option
def subscribe_form(config_path: Path) -> None:
    """Print an HTML sign-up form that posts to `subscribe.url` (served by `newsletter serve`).

    Paste it into your own website's page. It has the same fields and consent wording as
    the sign-up page; the visitor confirms by the link mailed to them, as on the page.
    Style it with your site's CSS (the form has class "newsletter-signup").

    \b
    Example:
      newsletter subscribe-form > signup-form.html
    """
    from newsletter.site import render_snippet

    click.echo(render_snippet(load(config_path)), nl=False)
