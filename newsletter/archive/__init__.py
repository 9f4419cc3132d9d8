"""The archive stage: built issues in, a static web site out.

Takes `issues/*/` and the `Config`; writes one page per issue and per theme, an index,
an Atom feed, a sitemap and a search index, rewriting only the files that changed.
"""

from __future__ import annotations

from newsletter.archive.site import ArchiveResult, build_archive

__all__ = ["ArchiveResult", "build_archive"]
