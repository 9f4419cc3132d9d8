"""Checks where readers are: every theme variant the subscriber list will receive.

Subscribers who chose some themes get their own version of the issue (`variants.py`):
another subject, table of contents, size, and sometimes the quiet-month note. The build
checks the whole issue; this module renders and checks each variant the subscriber CSV
actually needs, and adds what is new there, labelled with the variant (a finding the
whole issue has already is not repeated for every variant).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from newsletter.audience import read_subscribers
from newsletter.config import Config
from newsletter.daterange import DateRange
from newsletter.errors import NewsletterError
from newsletter.issue.build import BuildResult, build_issue, manifest_json, render_files, result_of, write_issue
from newsletter.issue.checks.findings import Finding, ordered
from newsletter.issue.variants import Key, Variants

__all__ = ["build_checked", "variant_findings", "variant_label"]


def variant_label(key: Key, config: Config) -> str:
    """How a finding names its variant: the chosen themes in display order, or the note."""
    if key is None:
        return ""
    if not key:
        return "quiet-month note"
    return "themes: " + ", ".join(theme for theme in config.themes if theme in key)


def _keys(result: BuildResult, config: Config, subscribers_csv: Path, variants: Variants) -> list[Key]:
    """The variants the list needs, in the order subscribers first need them."""
    if not subscribers_csv.is_file():
        return []
    try:
        subscribers = read_subscribers(subscribers_csv).subscribers
    except NewsletterError:
        return []  # `send` reports a broken list; checking the email does not depend on it
    keys: dict[Key, None] = {}
    for subscriber in subscribers:
        try:
            keys.setdefault(variants.key(subscriber.themes))
        except NewsletterError:
            continue  # an unknown theme name: `send` lists those rows
    return [k for k in keys if k is not None and (k or config.quiet_month)]


def variant_findings(result: BuildResult, config: Config, subscribers_csv: Path) -> list[Finding]:
    """The findings of every variant the list will receive that the whole issue lacks."""
    variants = Variants(result.rendered, config)
    known = {(f.rule, f.where, f.message) for f in result.findings}
    findings = []
    for key in _keys(result, config, subscribers_csv, variants):
        _, found = render_files(variants.rendered(key), config)
        label = variant_label(key, config)
        findings += [replace(f, variant=label) for f in found if (f.rule, f.where, f.message) not in known]
    return findings


def build_checked(config: Config, date_range: DateRange, subscribers_csv: Path, *,
                  write: bool = True) -> BuildResult:
    """`build_issue`, with the variants' findings added to manifest.json's `checks`."""
    result = build_issue(config, date_range, write=False)
    extra = variant_findings(result, config, subscribers_csv)
    if extra:
        findings = tuple(ordered([*result.findings, *extra]))
        files = {**result.files, "manifest.json": manifest_json(result.rendered, result.files, findings)}
        result = result_of(result.folder, result.rendered, files, findings)
    if write:
        write_issue(result.folder, result.files)
    return result
