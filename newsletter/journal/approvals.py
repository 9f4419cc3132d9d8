"""Approvals: who approved which issue when, and the record of what they saw (issue 30).

The record is an opaque JSON text to this package (the send stage makes and compares
it); only the latest approval of an issue counts, earlier ones stay as its history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from newsletter.journal.backend import Db
from newsletter.journal.db import now, transaction

__all__ = ["Approval", "latest_approval", "record_approval"]


@dataclass(frozen=True)
class Approval:
    id: int
    slug: str
    approved_by: str
    approved: str  # UTC, ISO 8601
    record: dict[str, Any] = field(repr=False)


def record_approval(db: Db, slug: str, approved_by: str, record: dict[str, Any]) -> Approval:
    """Store a new approval of `slug`; it replaces the earlier ones as the one that counts."""
    stamp = now()
    text = json.dumps(record, sort_keys=True)
    with transaction(db):
        (approval_id,) = db.execute("INSERT INTO approvals (slug, approved_by, approved, record) "
                                    "VALUES (?, ?, ?, ?) RETURNING id", (slug, approved_by, stamp, text)).fetchone()
    return Approval(int(approval_id), slug, approved_by, stamp, record)


def latest_approval(db: Db, slug: str) -> Approval | None:
    row = db.execute("SELECT id, slug, approved_by, approved, record FROM approvals WHERE slug = ? "
                     "ORDER BY id DESC LIMIT 1", (slug,)).fetchone()
    if row is None:
        return None
    return Approval(row[0], row[1], row[2], row[3], json.loads(row[4]))
