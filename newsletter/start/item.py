"""`newsletter new "Title"`: an item file with every field, today's date and a comment on each.

The file loads as it is (so `build` never trips over a half-written item), and the
comments say what each field takes, so nobody needs the README open to write one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from newsletter.collect import dated_file_names, write_item_file
from newsletter.config import Config
from newsletter.errors import ItemError

__all__ = ["item_template", "new_item"]


def _scalar(value: str) -> str:
    return yaml.safe_dump(value, width=1000, allow_unicode=True).removesuffix("\n...\n").strip()


def item_template(config: Config, title: str, date: dt.date) -> str:
    """The text of a new item: placeholders that load, and comments saying what to write."""
    domain = config.sender_domain or "example.org"
    themes = ", ".join(config.themes)
    return f"""\
# A newsletter item. Fill in each field; lines starting with # are comments.
title: {_scalar(title)}
date: {date.isoformat()}          # YYYY-MM-DD: the issue for this month includes it
source: {_scalar(config.name)}    # who published it: an organisation or a team
theme: {_scalar(config.themes[0])}    # one of: {themes}
summary: |                # two to four sentences, Markdown (**bold**, [link](https://...))
  Say what it is, who it is for and why it matters. Keep it short: readers scan.
links:                    # at least one; label is the button text, title the linked page's title
  - label: Read the report        # e.g. "Read the report", "Read the guidance"
    title: {_scalar(title)}
    url: https://{domain}/        # the page or document: https://...
# see_also:               # optional: related pages, listed under the item
#   - title: A related page
#     url: https://{domain}/related
# image:                  # optional: shown beside the item; alt text is required
#   src: https://{domain}/images/picture.jpg
#   alt: What the picture shows, for people who cannot see it
"""


def new_item(config: Config, title: str, /, *, today: dt.date | None = None) -> Path:
    """Write `items/YYYY-MM-DD-slug.yaml` under a free name; never overwrite a file."""
    title = " ".join(title.split())
    if not title:
        raise ItemError("the title is empty", hint='e.g. newsletter new "Annual report published"')
    date = today or dt.date.today()
    return write_item_file(config.items_dir, dated_file_names(date, title), item_template(config, title, date))
