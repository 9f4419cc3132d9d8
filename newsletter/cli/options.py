"""Options every command shares: `--config FILE` and the issue's date range."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from newsletter.daterange import DateRange, parse_range

if TYPE_CHECKING:
    from newsletter.config import Config

__all__ = ["config_option", "range_options", "load", "date_range"]

F = TypeVar("F", bound=Callable[..., Any])


def config_option(func: F) -> F:
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
        default=Path("newsletter.yaml"), show_default=True,
        help="The newsletter's config; items/, templates/ and issues/ are found beside it.",
    )(func)


def range_options(func: F) -> F:
    func = click.option("--until", metavar="YYYY-MM-DD", help="Last day to include (inclusive).")(func)
    func = click.option("--since", metavar="YYYY-MM-DD", help="First day to include (inclusive).")(func)
    return click.argument("month", required=False, metavar="[YYYY-MM]")(func)


def load(config_path: Path) -> Config:
    from newsletter.config import load_config

    return load_config(config_path)


def date_range(month: str | None, since: str | None, until: str | None) -> DateRange:
    return parse_range(month, since, until)
