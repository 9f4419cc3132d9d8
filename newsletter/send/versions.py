"""Checks where readers are: every version of the issue that `send` delivers.

Subscribers who chose some themes get their own version of the issue (issue/variants.py):
another subject, table of contents, size, and sometimes the quiet-month note. The build
checks the whole issue; this module renders and checks each variant the resolved
audience (audience/resolved.py: the CSV, confirmed sign-ups, topics saved on the
preferences page, minus suppressions) will receive, the same audience `send` plans
with, and adds what is new there, labelled with the variant (a finding the whole issue
has already is not repeated for every variant).

A bilingual list multiplies the versions by language: each language a reader on the list
has is checked like a theme selection (labelled `language: cy`), and an item with texts
per language that lacks one a reader will receive is an error at its field's line. A
config that stacks its languages in one email (`language_layout: stacked`) has no
language versions: every version carries every language, so every item needs each one.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

from newsletter import journal
from newsletter.audience import Audience, resolve
from newsletter.config import Config
from newsletter.daterange import DateRange
from newsletter.errors import NewsletterError
from newsletter.issue import (
    BuildResult,
    Finding,
    Key,
    Variants,
    build_issue,
    manifest_json,
    ordered,
    render_files,
    result_of,
    write_issue,
)

__all__ = ["Version", "build_checked", "checked_audience", "language_findings", "reader_languages",
           "variant_findings", "variant_label", "version_labels"]

Version = tuple[str, Key]  # (language tag, theme variant): what one reader receives


def variant_label(key: Key, config: Config, language: str = "") -> str:
    """How a finding names its variant: the language when not the config's, then the chosen
    themes in display order, or the note."""
    parts = [f"language: {language}"] if language and language != config.language else []
    if key == frozenset():
        parts.append("quiet-month note")
    elif key is not None:
        parts.append("themes: " + ", ".join(theme for theme in config.themes if theme in key))
    return "; ".join(parts)


def reader_languages(config: Config, audience: Audience | None) -> list[str]:
    """The languages readers on the list receive, in the order they first appear; every
    language, list or not, when the config stacks them all in one email."""
    if config.stacked_languages:
        return list(config.stacked_languages)
    if audience is None:
        return []
    return list(dict.fromkeys(s.language or config.language for s in audience.mailed))


def _language(config: Config, tag: str) -> str:
    """The language version a reader with `tag` in the list's column receives: theirs, or
    the one stacked email (the column then chooses nothing)."""
    return config.language if config.stacked_languages else tag or config.language


def language_findings(result: BuildResult, config: Config, audience: Audience | None) -> list[Finding]:
    """An error at the field for each per-language text an item lacks in a reader's language
    (a text given as one string reads the same in every language: no error)."""
    languages = set(reader_languages(config, audience))
    findings = []
    for item in result.rendered.issue.items:
        for name, tag in item.missing_languages(languages):
            findings.append(Finding("language", "error", item.where_of(name),
                                    f"`{name}` has no `{tag}` text, and some subscribers read {tag}",
                                    f"add `{tag}: ...` under `{name.rpartition('.')[2]}:`",
                                    variant=variant_label(None, config, tag)))
    return findings


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


def _keys(config: Config, audience: Audience | None, variants: Variants) -> list[Version]:
    """The versions the audience needs besides the whole issue, in the order subscribers
    first need them."""
    if audience is None:
        return []
    keys = dict.fromkeys((_language(config, s.language), variants.key(s.themes)) for s in audience.mailed)
    return [(tag, k) for tag, k in keys if (k is not None or tag != config.language)
            and (k != frozenset() or config.quiet_month)]


def version_labels(result: BuildResult, config: Config, audience: Audience | None) -> list[str]:
    """The versions besides the whole issue that the audience receives and the checks cover,
    by label (`themes: Domestic abuse`, `quiet-month note`, `language: cy`), as
    `check --format json` names them."""
    return [variant_label(key, config, tag)
            for tag, key in _keys(config, audience, Variants(result.rendered, config))]


def variant_findings(result: BuildResult, config: Config, audience: Audience | None) -> list[Finding]:
    """The findings of every variant the audience will receive that the whole issue lacks."""
    variants = Variants(result.rendered, config)
    known = {(f.rule, f.where, f.message) for f in result.findings}
    findings = language_findings(result, config, audience)
    for tag, key in _keys(config, audience, variants):
        version = variants.for_language(tag)
        _, found = render_files(version.rendered(key), version.config)
        label = variant_label(key, config, tag)
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
