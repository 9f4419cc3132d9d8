"""The build stage: config + items -> `issues/<slug>/`, written atomically.

`build_issue` is the one code path that turns items into an issue; `preview` and `send`
call it too, so what is previewed is what is sent.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsletter.config import Config
from newsletter.daterange import DateRange
from newsletter.deliver import is_loopback
from newsletter.errors import BuildError
from newsletter.issue.checks import check_issue
from newsletter.issue.checks.editorial import check_editorial, example_placeholders
from newsletter.issue.checks.findings import Finding, ordered
from newsletter.issue.compose import greetings, preferences_url, sample_message, unsubscribe_url
from newsletter.issue.items import load_items
from newsletter.issue.render import GMAIL_CLIP_BYTES, RenderedIssue, slot
from newsletter.issue.selection import Issue, make_issue
from newsletter.issue.stacked import render_version
from newsletter.tokens import SAMPLE_SECRET, make_token

__all__ = [
    "BuildResult", "build_issue", "clipped_error", "manifest_json", "prepare_issue", "render_files", "result_of",
    "sample_values", "write_issue",
]

OUTPUT_FILES = ("email.html", "email.txt", "sample.eml", "manifest.json")


@dataclass(frozen=True)
class BuildResult:
    folder: Path
    rendered: RenderedIssue
    manifest: dict[str, Any]  # manifest.json as written (what the preview and the archive read)
    files: dict[str, bytes]
    findings: tuple[Finding, ...] = ()  # the checks' findings, errors first (also in the manifest)

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.rendered.warnings


def clipped_error(result: BuildResult) -> BuildError | None:
    """The error for an email Gmail would clip (hiding its end, the unsubscribe link included),
    or None. The files are still written, so the officer can look at what is too big."""
    size = result.rendered.sent_bytes
    if size <= GMAIL_CLIP_BYTES:
        return None
    return BuildError(f"the email is {size / 1024:.0f} KB as sent; Gmail clips it after 102 KB, cutting off "
                      "the later sections and the unsubscribe link", path=result.folder / "email.html",
                      hint="set `archive_url` to send a short excerpt linking to the issue online instead, "
                      "or fewer items, shorter summaries")


def prepare_issue(config: Config, date_range: DateRange) -> Issue:
    items = load_items(config.items_dir, root=config.root)
    return make_issue(items, config, date_range)


def sample_values(rendered: RenderedIssue, config: Config) -> dict[str, str]:
    """The sample recipient's values for the slots, as shown in email.html and email.txt."""
    name, email = config.sample_recipient
    token = make_token(SAMPLE_SECRET, config.list_id, email)
    return {**greetings(name, "", config), "unsubscribe_url": unsubscribe_url(config, token),
            "preferences_url": preferences_url(config, token)}


def _with_values(text: str, values: dict[str, str], *, escape: bool) -> str:
    for key, value in values.items():
        text = text.replace(slot(key), html.escape(value) if escape else value)
    return text


def manifest_for(rendered: RenderedIssue, files: dict[str, bytes]) -> dict[str, Any]:
    issue = rendered.issue
    return {
        "slug": issue.range.slug,
        "range": {"start": issue.range.start.isoformat(), "end": issue.range.end.isoformat()},
        "subject": rendered.subject,
        "preheader": rendered.preheader,
        "item_count": len(issue.items),
        "excerpt": rendered.excerpt,
        "sent_bytes": rendered.sent_bytes,
        "themes": [
            {
                "theme": section.theme,
                "anchor": section.anchor,
                "items": [
                    {"title": i.title, "date": i.date.isoformat(), "source": i.source, "file": i.path}
                    for i in section.items
                ],
            }
            for section in issue.sections
        ],
        "sizes": {name: len(data) for name, data in files.items()},
        "warnings": list(rendered.warnings),
    }


def render_files(rendered: RenderedIssue, config: Config, *,
                 extra: Iterable[Finding] = ()) -> tuple[dict[str, bytes], tuple[Finding, ...]]:
    """The issue's files with the sample recipient filled in, checked; manifest.json lists
    the findings too (with `extra`: the rules that need more than the email, e.g. editorial)."""
    values = sample_values(rendered, config)
    name, email = config.sample_recipient
    files = {
        "email.html": _with_values(rendered.html, values, escape=True).encode("utf-8"),
        "email.txt": _with_values(rendered.text, values, escape=False).encode("utf-8"),
        "sample.eml": sample_message(rendered, config, make_token(SAMPLE_SECRET, config.list_id, email)),
    }
    findings = tuple(ordered([*check_issue(rendered, files, config), *extra]))
    files["manifest.json"] = manifest_json(rendered, files, findings)
    return files, findings


def manifest_json(rendered: RenderedIssue, files: dict[str, bytes], findings: Iterable[Finding]) -> bytes:
    """manifest.json for the issue files in `files` (manifest.json itself left out)."""
    manifest = manifest_for(rendered, {k: v for k, v in files.items() if k != "manifest.json"})
    manifest["checks"] = [finding.as_dict() for finding in findings]
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def result_of(folder: Path, rendered: RenderedIssue, files: dict[str, bytes],
              findings: tuple[Finding, ...]) -> BuildResult:
    return BuildResult(folder, rendered, json.loads(files["manifest.json"]), files, findings)


def write_issue(folder: Path, files: dict[str, bytes]) -> None:
    """Write into a temp folder, then swap it in: a failed build leaves the old issue intact."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    tmp.chmod(0o755)
    try:
        for name, data in files.items():
            with open(tmp / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        if folder.exists():
            # keep files other stages put there (e.g. send reports) by copying them over
            for extra in folder.iterdir():
                if extra.name not in files and not (tmp / extra.name).exists():
                    if extra.is_dir():
                        shutil.copytree(extra, tmp / extra.name)
                    else:
                        shutil.copy2(extra, tmp / extra.name)
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BuildError(f"cannot write the issue: {exc.strerror}", path=folder) from exc


def _config_text(config: Config) -> str:
    try:
        return config.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):  # read a moment ago; a config made in memory has no file
        return ""


def build_issue(config: Config, date_range: DateRange, *, write: bool = True,
                now: dt.datetime | None = None) -> BuildResult:
    """Load, select, render, check and (with `write`) write `issues/<slug>/`; `now` is when
    the editorial rules take "now" to be (an embargo), by default this moment."""
    items = load_items(config.items_dir, root=config.root)
    issue = make_issue(items, config, date_range).in_language(config.language)
    rendered = render_version(issue, config)
    editorial = check_editorial(issue, items, now=now or dt.datetime.now(dt.UTC), buttons=config.buttons)
    if config.smtp is not None and not is_loopback(config.smtp.host):  # mail will leave: say what send refuses
        editorial += example_placeholders(issue, config.path.name, _config_text(config))
    files, findings = render_files(rendered, config, extra=editorial)
    folder = config.issues_dir / date_range.slug
    if write:
        write_issue(folder, files)
    return result_of(folder, rendered, files, findings)
