"""Helpers for the tests of languages stacked in one email: the sample newsletter in Welsh
and English (`language_layout: stacked`), one item written in both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from newsletter.config import Config, load_config
from support.bilingualkit import WELSH_ITEM
from support.bilingualkit import WELSH_ITEM_FILE as ITEM
from support.sendkit import make_project

SUBJECT = ("Safeguarding digest: beth sy'n newydd yn Gorffennaf 2023 / "
           "Safeguarding digest: what's new in July 2023")
READERS = ("email,name,language\nanwen@example.org,Anwen Jones,cy\nbob@example.org,Bob Smith,en\n"
           "carol@example.org,Carol White,\n")


def stacked_project(root: Path, *, smtp: dict[str, Any] | None = None, item: str = WELSH_ITEM,
                    readers: str = READERS, layout: str = "language_layout: stacked\n") -> Config:
    """The sample newsletter in Welsh then English, stacked in one email (`layout` swaps
    the `language_layout` line), with a per-language subject and footer."""
    config = make_project(root, smtp=smtp)
    text = config.path.read_text(encoding="utf-8").replace(
        "language: en-GB\n", f"language: en\nlanguages: [cy, en]\n{layout}").replace(
        "subject: \"{name}: what's new in {period}\"",
        "subject: {en: \"{name}: what's new in {period}\", cy: \"{name}: beth sy'n newydd yn {period}\"}")
    config.path.write_text(text, encoding="utf-8")
    (root / ITEM).write_text(item, encoding="utf-8")
    (root / "subscribers.csv").write_text(readers, encoding="utf-8")
    return load_config(config.path)
