"""Options every command shares: `--config FILE` and the issue's date range."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from newsletter.daterange import DateRange, parse_range

if TYPE_CHECKING:
    from newsletter.config import Config

__all__ = ["config_option", "range_options", "load", "date_range", "issue_range"]

F = TypeVar("F", bound=Callable[..., Any])


def config_option(func: F) -> F:
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
        default=Path("newsletter.yaml"), show_default=True,
        help="The newsletter's config; items/, templates/ and issues/ are found beside it.",
    )(func)


def _well_formed(kind: str) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    """A month or date that cannot be read is bad usage (exit 2, with the usage line), like a
    missing argument; whether the range makes sense is decided later (exit 1)."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        from newsletter.errors import NewsletterError

        try:
            parse_range(value, None, None) if kind == "month" else parse_range(None, value, value)
        except NewsletterError as exc:
            raise click.BadParameter(f"{exc.message} ({exc.hint})" if exc.hint else exc.message) from None
        return value

    return check


def range_options(func: F) -> F:
    func = click.option("--until", metavar="YYYY-MM-DD", callback=_well_formed("date"),
                        help="Last day to include (inclusive).")(func)
    func = click.option("--since", metavar="YYYY-MM-DD", callback=_well_formed("date"),
                        help="First day to include (inclusive).")(func)
    return click.argument("month", required=False, metavar="[YYYY-MM]", callback=_well_formed("month"))(func)


def load(config_path: Path) -> Config:
    from newsletter.config import load_config

    return load_config(config_path)


def date_range(month: str | None, since: str | None, until: str | None) -> DateRange:
    return parse_range(month, since, until)


def issue_range(config: Config, month: str | None, since: str | None, until: str | None) -> DateRange:
    """The range given, or, with none, the issue the newest unsent items need (said on stderr)."""
    if month or since or until:
        return parse_range(month, since, until)
    from newsletter.send import next_issue

    chosen = next_issue(config)
    click.echo(f"No month given: {chosen.range.slug}, {chosen.why}.", err=True)
    return chosen.range
