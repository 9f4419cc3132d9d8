"""Personalised digests without rendering per person: one variant per distinct selection.

A subscriber's selection (see `choices`) is reduced to a *variant key*: the chosen
themes that actually have items in this issue. Two selections that differ only in
themes with nothing new this month get the same message, so the number of renders is
at most the number of distinct selections in the list, and usually fewer. The key is
`None` for the whole issue (no choice, or every theme with items chosen: the build's
own rendering is reused) and the empty set for a *quiet month*: nothing in the chosen
themes. A quiet subscriber is skipped (`SkipReason.QUIET` in the journal) unless the config
has a `quiet_month:` note, which is then sent instead, rendered once from `quiet.html`
and `quiet.txt`.

Each variant goes through the same `render_issue` as the build (Jinja2, CSS inlined
once, plain text), so its subject (`{themes}`, `{count}`), preheader and table of
contents describe exactly the sections it has. `Variants.renders` counts the renders
done here, so tests and the send summary can show that nothing is rendered per person.

A bilingual list (`languages: [cy, en]`, a `language` column) adds a second dimension:
`for_language(tag)` is the same set of variants for readers of `tag`, its whole issue
rendered once from the items' and the config's texts in `tag` with `tag`'s catalogue.
So versions are per (language x theme selection), each rendered once. A config that stacks
its languages in one email (`language_layout: stacked`, issue/stacked.py) has one language
dimension only: every reader gets every language, so `for_language` is these variants
whatever the reader's `language`, and each theme variant is rendered stacked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jinja2

from newsletter.config import Config, Selection, format_number, format_period, selection_of, translations, unknown_theme_error
from newsletter.errors import NewsletterError, SendError
from newsletter.issue.build import BuildResult, render_files, result_of
from newsletter.issue.checks.findings import Finding
from newsletter.issue.render import RenderedIssue, template_environment
from newsletter.issue.selection import Issue
from newsletter.issue.stacked import render_version

__all__ = [
    "Key",
    "PreviewVariants",
    "VariantView",
    "Variants",
    "preview_variant",
    "quiet_subject",
    "theme_query",
]

Key = frozenset[str] | None  # chosen themes with items; None = the whole issue; frozenset() = quiet


def quiet_subject(config: Config, period: str) -> str:
    words = translations(config.language, config.locale_dir)
    return words.gettext("%(name)s: nothing new in your topics for %(period)s") % {"name": config.name, "period": period}


class Variants:
    """Rendered variants of one issue by key, each rendered on first use and kept."""

    def __init__(self, rendered: RenderedIssue, config: Config, *, env: jinja2.Environment | None = None) -> None:
        self.full = rendered
        self.config = config
        self._env = env
        self._present = tuple(section.theme for section in rendered.issue.sections)
        self._cache: dict[Key, RenderedIssue] = {None: rendered}
        self._keys: dict[tuple[str, ...] | None, Key] = {}  # memo: `key` runs once per recipient
        self.renders = 0  # render_issue calls made here (the whole issue comes from the build)
        self._languages: dict[str, Variants] = {}  # other languages' variants, by tag
        self._envs: dict[str, jinja2.Environment] = {}  # each stacked language's templates

    @property
    def env(self) -> jinja2.Environment:
        if self._env is None:
            self._env = template_environment(self.config)
        return self._env

    def for_language(self, tag: str) -> Variants:
        """The variants for readers of `tag` ("" or the config's own language: these; and
        these for everyone when the config stacks every language in one email)."""
        if not tag or tag == self.config.language or self.config.stacked_languages:
            return self
        found = self._languages.get(tag)
        if found is None:
            config = self.config.in_language(tag)
            self.renders += 1
            found = Variants(render_version(self.full.issue.in_language(tag), config), config)
            self._languages[tag] = found
        return found

    def key(self, themes: Iterable[str] | None) -> Key:
        """The variant for a subscriber's themes (names as in the CSV or the config)."""
        memo = None if themes is None else tuple(themes)
        if memo not in self._keys:
            self._keys[memo] = self.key_of(selection_of(memo, self.config))
        return self._keys[memo]

    def key_of(self, selection: Selection) -> Key:
        if selection is None:
            return None
        effective = frozenset(theme for theme in self._present if theme in selection)
        return None if len(effective) == len(self._present) else effective

    def is_quiet(self, themes: Iterable[str] | None) -> bool:
        """Nothing in these themes this month."""
        return self.key(themes) == frozenset()

    @property
    def keys(self) -> list[Key]:
        """The variants rendered so far (the whole issue always counts as one)."""
        return list(self._cache)

    def rendered(self, key: Key) -> RenderedIssue:
        """The variant for `key`, rendered and inlined once per key."""
        found = self._cache.get(key)
        if found is None:
            found = self._render(key) if key else self._quiet()
            self._cache[key] = found
        return found

    def prepare(self, keys: Iterable[Key]) -> None:
        """Render every variant a run needs up front: template errors surface before sending."""
        for key in dict.fromkeys(keys):
            if key != frozenset() or self.config.quiet_month:
                self.rendered(key)

    def _render(self, key: frozenset[str]) -> RenderedIssue:
        self.renders += 1
        return render_version(self.full.issue.only(set(key)), self.config, env=self.env, envs=self._envs)

    def _quiet(self) -> RenderedIssue:
        """The quiet-month note: the configured text and what the full issue has this month."""
        if not self.config.quiet_month:
            raise SendError("no items in this subscriber's themes and no `quiet_month:` note to send",
                            hint="this recipient should have been skipped as a quiet month; please report it")
        self.renders += 1
        return render_version(self.full.issue, self.config, env=self.env, envs=self._envs, template="quiet",
                              words=_quiet_words)


def _quiet_words(config: Config, issue: Issue) -> tuple[str, str, dict[str, Any]]:
    """The quiet-month note's subject, preheader and note in `config`'s language."""
    count = len(issue.items)
    language = config.language
    period = format_period(issue.range, language)
    words = translations(language, config.locale_dir)
    preheader = words.ngettext("Nothing new in the topics you chose for %(period)s; the full issue has %(count)s item.",
                               "Nothing new in the topics you chose for %(period)s; the full issue has %(count)s items.",
                               count) % {"period": period, "count": format_number(count, language)}
    return quiet_subject(config, period), preheader, {"note": config.quiet_month}


@dataclass(frozen=True)
class VariantView:
    """What a theme selection would receive, for the preview: a `BuildResult` like the build's."""

    selection: Selection
    key: Key
    result: BuildResult | None  # None: this selection gets nothing this month (a quiet month, skipped)


def preview_variant(result: BuildResult, config: Config, names: Iterable[str],
                    variants: Variants | None = None, language: str = "") -> VariantView:
    """The issue as subscribers with these themes (reading `language`: "" for the config's)
    would see it, through the build's own path.

    The files are made by `build.render_files` (sample recipient filled in, checks run),
    exactly as `newsletter build` writes them; nothing is written to disk. Another language's
    checks add an error for each item text missing in it, as `check` does for its readers.
    """
    whole = variants or Variants(result.rendered, config)
    variants = whole.for_language(language)
    config = variants.config
    selection = selection_of(list(names), config)
    key = variants.key_of(selection)
    if key is None and variants is whole:
        return VariantView(selection, key, result)
    if key == frozenset() and not config.quiet_month:
        return VariantView(selection, key, None)
    rendered = variants.rendered(key)
    missing = [] if variants is whole else [
        Finding("language", "error", item.where_of(name), f"`{name}` has no `{tag}` text",
                f"add `{tag}: ...` under `{name.rpartition('.')[2]}:`", variant=f"language: {tag}")
        for item in rendered.issue.items for name, tag in item.missing_languages({config.language})]
    files, findings = render_files(rendered, config, extra=missing)
    return VariantView(selection, key, result_of(result.folder, rendered, files, findings))


def theme_query(values: Iterable[str], config: Config) -> tuple[list[str], list[NewsletterError]]:
    """Theme names from a query (`themes=Neglect,Online safety`, or `theme` repeated).

    Names may be separated by `,` `;` or `|`; unknown ones come back as errors with a
    suggestion, like the subscriber CSV's.
    """
    names: list[str] = []
    errors: list[NewsletterError] = []
    for value in values:
        for name in re.split(r"[,;|]", value):
            if not name.strip():
                continue
            theme = config.theme_named(name)
            if theme is None:
                errors.append(unknown_theme_error(" ".join(name.split()), config, path=None))
            elif theme not in names:
                names.append(theme)
    return [theme for theme in config.themes if theme in names], errors  # display order


class PreviewVariants:
    """The preview's variants of the current build, rendered once per build, language and selection."""

    def __init__(self) -> None:
        self._version: str | None = None
        self._variants: Variants | None = None
        self._views: dict[tuple[str, Selection], VariantView] = {}

    def view(self, result: BuildResult, config: Config, version: str, names: list[str],
             language: str = "") -> VariantView:
        if version != self._version or self._variants is None:
            self._version, self._variants, self._views = version, Variants(result.rendered, config), {}
        selection = selection_of(names, config)
        if (language, selection) not in self._views:
            self._views[language, selection] = preview_variant(result, config, names, self._variants, language)
        return self._views[language, selection]
