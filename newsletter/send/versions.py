"""Checks where readers are: every version of the issue that `send` delivers.

Subscribers who chose some themes get their own version of the issue (issue/variants.py):
another subject, table of contents, size, and sometimes the quiet-month note. The build
checks the whole issue; this module renders and checks each variant the resolved
audience (audience/resolved.py: the CSV, confirmed sign-ups, topics saved on the
preferences page, minus suppressions) will receive, the same audience `send` plans
with, and adds what is new there, labelled with the variant (a finding the whole issue
has already is not repeated for every variant).
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

from newsletter import journal
from newsletter.audience.resolved import Audience, resolve
from newsletter.config.loader import Config
from newsletter.daterange import DateRange
from newsletter.errors import NewsletterError
from newsletter.issue.build import BuildResult, build_issue, manifest_json, render_files, result_of, write_issue
from newsletter.issue.checks.findings import Finding, ordered
from newsletter.issue.variants import Key, Variants

__all__ = ["build_checked", "checked_audience", "variant_findings", "variant_label", "version_labels"]


def variant_label(key: Key, config: Config) -> str:
    """How a finding names its variant: the chosen themes in display order, or the note."""
    if key is None:
        return ""
    if not key:
        return "quiet-month note"
    return "themes: " + ", ".join(theme for theme in config.themes if theme in key)


def checked_audience(config: Config, subscribers_csv: Path) -> Audience | None:
    """The audience for `build` and `check`, or None without a readable list: checking the
    email does not depend on the list (`send` reports a broken one). Nothing is written:
    without a state file there are no sign-ups, choices or suppressions to read."""
    if not subscribers_csv.is_file():
        return None
    try:
        if not journal.exists(config.state):
            return resolve(config, subscribers_csv, None)
        with contextlib.closing(journal.connect(config.state)) as db:
            return resolve(config, subscribers_csv, db)
    except NewsletterError:
        return None


def _keys(config: Config, audience: Audience | None, variants: Variants) -> list[Key]:
    """The variants the audience needs, in the order subscribers first need them."""
    if audience is None:
        return []
    keys = dict.fromkeys(variants.key(subscriber.themes) for subscriber in audience.mailed)
    return [k for k in keys if k is not None and (k or config.quiet_month)]


def version_labels(result: BuildResult, config: Config, audience: Audience | None) -> list[str]:
    """The versions besides the whole issue that the audience receives and the checks cover,
    by label (`themes: Domestic abuse`, `quiet-month note`), as `check --format json` names them."""
    return [variant_label(key, config) for key in _keys(config, audience, Variants(result.rendered, config))]


def variant_findings(result: BuildResult, config: Config, audience: Audience | None) -> list[Finding]:
    """The findings of every variant the audience will receive that the whole issue lacks."""
    variants = Variants(result.rendered, config)
    known = {(f.rule, f.where, f.message) for f in result.findings}
    findings = []
    for key in _keys(config, audience, variants):
        _, found = render_files(variants.rendered(key), config)
        label = variant_label(key, config)
        findings += [replace(f, variant=label) for f in found if (f.rule, f.where, f.message) not in known]
    return findings


def build_checked(config: Config, date_range: DateRange, audience: Audience | None, *,
                  write: bool = True) -> BuildResult:
    """`build_issue`, with the variants' findings added to manifest.json's `checks`."""
    result = build_issue(config, date_range, write=False)
    extra = variant_findings(result, config, audience)
    if extra:
        findings = tuple(ordered([*result.findings, *extra]))
        files = {**result.files, "manifest.json": manifest_json(result.rendered, result.files, findings)}
        result = result_of(result.folder, result.rendered, files, findings)
    if write:
        write_issue(result.folder, result.files)
    return result
