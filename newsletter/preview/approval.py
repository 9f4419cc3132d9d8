"""The preview's approval panel: who approved this issue, when, and does the build still match.

The panel reads the latest approval from the journal and compares it with the build on
screen (send/approval.py, the same comparison a scheduled send makes), once per build
version and approval; the Approve button (a same-origin POST, never a GET) records an
approval of the build on screen, every version the subscriber list receives.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Any

from newsletter import journal
from newsletter.audience import resolve
from newsletter.errors import NewsletterError
from newsletter.preview.livebuild import Snapshot
from newsletter.send import SendPlan, approve, describe, prepare_send, verify

__all__ = ["ApprovalPanel", "approve_snapshot"]


def _plan(snap: Snapshot) -> SendPlan:
    """The plan `send` would make for the build on screen (the resolved audience's versions)."""
    assert snap.config is not None and snap.result is not None
    with contextlib.closing(journal.connect(snap.config.state)) as db:
        audience = resolve(snap.config, snap.config.subscribers_file, db)
    return prepare_send(snap.config, snap.result, audience)


def approve_snapshot(snap: Snapshot, approved_by: str) -> str | None:
    """Approve the build on screen; None when recorded, else what stopped it."""
    if snap.config is None or snap.result is None:
        return "fix the build first"
    if not approved_by.strip():
        return "give your name to approve"
    try:
        approve(_plan(snap), approved_by)
    except NewsletterError as exc:
        return str(exc)
    return None


@dataclass
class ApprovalPanel:
    """What the panel shows, computed once per (build version, approval)."""

    _memo: tuple[tuple[str, int], dict[str, Any]] | None = None

    def context(self, snap: Snapshot) -> dict[str, Any]:
        if snap.config is None or snap.result is None:
            return {}
        slug = snap.result.rendered.issue.range.slug
        if not journal.exists(snap.config.state):
            return {"approval": None}  # looking never creates the state file
        with contextlib.closing(journal.connect(snap.config.state)) as db:
            approval = journal.latest_approval(db, slug)
        if approval is None:
            return {"approval": None}
        key = (snap.version, approval.id)
        if self._memo is not None and self._memo[0] == key:
            return self._memo[1]
        shown = {"by": approval.approved_by,
                 "when": describe(dt.datetime.fromisoformat(approval.approved), snap.config.timezone),
                 "versions": list(approval.record.get("versions", {})), "changes": [], "problem": None}
        try:
            check = verify(_plan(snap))
            shown["changes"] = check.problems()
        except NewsletterError as exc:
            shown["problem"] = str(exc)
        context = {"approval": shown}
        self._memo = (key, context)
        return context
