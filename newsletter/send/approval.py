"""Approval: a record of exactly what someone reviewed, and whether a build still matches it.

`approval_record(plan)` fingerprints every version the send plan's list receives (each
theme selection's HTML, text, subject and compiled message, headers template included),
the sender, the files it was made from (item files, templates, the config) and the
check results at that moment. `approve` stores it in the journal; `verify` rebuilds
nothing itself: it compares the record of the build at hand with the latest approval
and says, file by file and version by version, what is different.

| a build is sendable as approved when ... | otherwise the difference names ... |
|---|---|
| every version's HTML, text, subject and message hash as approved | the version and the part |
| no version the list now receives is missing from the approval | the new version (a new theme choice) |
| the sender is unchanged | old and new sender |
| `newsletter check` finds no errors now | each error |

A difference in the files names the file (added, removed, changed, with the item's
title), which is what an officer needs to find the edit; the version hashes are what
decides, so a touched file whose output is identical does not block a send.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsletter import journal
from newsletter.audience import resolve
from newsletter.config import Config
from newsletter.daterange import DateRange
from newsletter.errors import SendError
from newsletter.issue import Key, RenderedIssue, compile_message
from newsletter.send.plan import SendPlan, prepare_send
from newsletter.send.versions import build_checked, variant_label

__all__ = ["ApprovalCheck", "approval_record", "approve", "checked_plan", "compare_records", "latest", "verify"]

RECORD_VERSION = 1


def _sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def _version(rendered: RenderedIssue, plan: SendPlan, label: str) -> dict[str, str]:
    template = compile_message(rendered, plan.config)
    message = hashlib.sha256(template.subject.encode())
    for part in template.parts:  # the headers template (From, List-*, ...) and both bodies
        message.update(part if isinstance(part, bytes) else f"{{{part}}}".encode())
    return {"label": label, "subject": rendered.subject, "html": _sha(rendered.html),
            "text": _sha(rendered.text), "message": message.hexdigest()}


def _keys(plan: SendPlan) -> list[tuple[str, Key]]:
    """The whole issue, then every version a subscriber on the list receives (each theme
    selection, in each reader's language)."""
    language = plan.config.language
    languages = dict.fromkeys([language, *(s.language or language for s in plan.subscribers.subscribers
                                           if not plan.config.stacked_languages)])  # stacked: one email for all
    keys: dict[tuple[str, Key], None] = {(tag, None): None for tag in languages}
    if plan.variants is not None:
        for selection in plan.choices.selections:
            key = plan.variants.key_of(selection)
            if key != frozenset() or plan.config.quiet_month:
                for tag in languages:
                    keys.setdefault((tag, key))
    return list(keys)


def _files(plan: SendPlan) -> dict[str, str]:
    """Every file the issue is made from, by its path beside the config: hash."""
    root = plan.config.root
    paths = {item.path for item in plan.build.rendered.issue.items}
    templates = plan.config.templates or root / "templates"
    if templates.is_dir():
        paths |= {str(p.relative_to(root)) if p.is_relative_to(root) else str(p)
                  for p in sorted(templates.rglob("*")) if p.is_file()}
    paths.add(plan.config.path.name)
    files = {}
    for name in sorted(paths):
        path = Path(name) if Path(name).is_absolute() else root / name
        with contextlib.suppress(OSError):
            files[name] = _sha(path.read_bytes())
    return files


def approval_record(plan: SendPlan) -> dict[str, Any]:
    """What an approval stores: versions, sender, files, items and checks, as plain JSON data."""
    assert plan.variants is not None
    versions = {}
    for tag, key in _keys(plan):
        label = variant_label(key, plan.config, tag) or "whole issue"
        version = plan.variants.for_language(tag)
        versions[label] = _version(version.rendered(key), plan, label)
    items = [{"file": item.path, "title": item.title,
              "hash": _sha(repr(dataclasses.replace(item, path="", line=0)))}
             for item in plan.build.rendered.issue.items]
    checks = [f.as_dict() for f in plan.build.findings]
    return {"format": RECORD_VERSION, "slug": plan.slug, "sender": plan.config.sender,
            "reply_to": plan.config.reply_to or "", "versions": versions, "files": _files(plan),
            "items": items, "checks": checks,
            "errors": sum(1 for f in plan.build.findings if f.severity == "error")}


def compare_records(approved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What differs between an approved record and the current one, in words; [] = the same."""
    changes: list[str] = []
    for key, what in (("sender", "sender"), ("reply_to", "reply-to")):
        if approved.get(key) != current.get(key):
            changes.append(f"{what}: {approved.get(key)!r} -> {current.get(key)!r}")
    old_versions, new_versions = approved.get("versions", {}), current.get("versions", {})
    for label, now in new_versions.items():
        then = old_versions.get(label)
        if then is None:
            changes.append(f"{label}: a version the list now receives that was not approved "
                           "(a subscriber chose other themes)")
            continue
        subject = then.get("subject") != now["subject"]
        if subject:
            changes.append(f"{label}: subject {then.get('subject')!r} -> {now['subject']!r}")
        parts = [part for part in ("html", "text") if then.get(part) != now[part]]
        if parts:
            changes.append(f"{label}: the {' and the '.join(p.upper() if p == 'html' else p for p in parts)} changed")
        elif not subject and then.get("message") != now["message"]:
            changes.append(f"{label}: the message headers changed (templates or config)")
    # the files say where to look; only what the list receives decides
    return [*_file_changes(approved, current), *changes] if changes else []


def _file_changes(approved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Files added, removed or changed since the approval, items named by title."""
    old, new = approved.get("files", {}), current.get("files", {})
    titles = {i["file"]: i["title"] for i in [*approved.get("items", []), *current.get("items", [])]}
    old_items = {(i["file"], i["hash"]): i["title"] for i in approved.get("items", [])}
    new_items = {(i["file"], i["hash"]): i["title"] for i in current.get("items", [])}
    changes = []
    for name in sorted(set(old) | set(new)):
        title = f" ({titles[name]!r})" if name in titles else ""
        if name not in new:
            changes.append(f"{name}: removed{title}")
        elif name not in old:
            changes.append(f"{name}: added{title}")
        elif old[name] != new[name]:
            gone = sorted(t for (f, _), t in old_items.items() if f == name and (f, _) not in new_items)
            came = sorted(t for (f, _), t in new_items.items() if f == name and (f, _) not in old_items)
            detail = ""
            if gone and came and gone != came:
                detail = f": title {gone[0]!r} -> {came[0]!r}" if len(gone) == len(came) == 1 else ""
            elif gone or came:
                detail = f": item {(came or gone)[0]!r} edited"
            changes.append(f"{name}: changed{detail or title}")
    return changes


@dataclass(frozen=True)
class ApprovalCheck:
    """The build at hand against the latest approval: sendable when `ok`."""

    approval: journal.Approval | None
    changes: list[str]  # what differs from the approval, in words
    errors: list[str]  # `newsletter check` errors now

    @property
    def ok(self) -> bool:
        return self.approval is not None and not self.changes and not self.errors

    def problems(self) -> list[str]:
        if self.approval is None:
            return ["the issue has not been approved (`newsletter approve`, or Approve in the preview)"]
        return [*self.changes, *(f"check error: {e}" for e in self.errors)]


def approve(plan: SendPlan, approved_by: str) -> journal.Approval:
    """Record that `approved_by` approved exactly this build, as the list will receive it."""
    if not approved_by.strip() or any(ord(c) < 32 for c in approved_by) or len(approved_by) > 200:
        raise SendError(f"not a name for an approver: {approved_by!r}", field="--by",
                        hint="give a short name or address, e.g. --by 'Jo Editor'")
    record = approval_record(plan)
    with contextlib.closing(journal.connect(plan.config.state)) as db:
        return journal.record_approval(db, plan.slug, approved_by.strip(), record)


def latest(plan: SendPlan) -> journal.Approval | None:
    with contextlib.closing(journal.connect(plan.config.state)) as db:
        return journal.latest_approval(db, plan.slug)


def verify(plan: SendPlan) -> ApprovalCheck:
    """Does the build in `plan` still match its latest approval, and do the checks pass?"""
    approval = latest(plan)
    errors = [f"{f.where}: {f.rule}: {f.message}" for f in plan.build.findings if f.severity == "error"]
    if approval is None:
        return ApprovalCheck(None, [], errors)
    return ApprovalCheck(approval, compare_records(approval.record, approval_record(plan)), errors)


def checked_plan(config: Config, date_range: DateRange, subscribers_csv: Path, *, write: bool = True,
                 strict: bool = False, **options: Any) -> SendPlan:
    """Resolve the audience once, build (every version it receives checked, as `send` does)
    and plan: what approve and a scheduled send see."""
    with contextlib.closing(journal.connect(config.state)) as db:
        audience = resolve(config, subscribers_csv, db, strict=strict)
    result = build_checked(config, date_range, audience, write=write)
    return prepare_send(config, result, audience, **options)
