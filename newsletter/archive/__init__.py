"""The archive stage: built issues in, a static web site out.

Takes `issues/*/` and the `Config`; writes one page per issue and per theme, an index,
an Atom feed, a sitemap and a search index, rewriting only the files that changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter import load_face

if TYPE_CHECKING:
    from newsletter.archive.site import build_archive

# name -> the module that defines it, imported on first use (PEP 562), so that importing
# one name loads only what that name needs.
_EXPORTS = {
    "build_archive": "newsletter.archive.site",
}

__all__ = [
    "build_archive",
]


def __getattr__(name: str) -> object:
    return load_face(__name__, _EXPORTS, name)
