"""One email carrying every language (`language_layout: stacked`), first listed first.

Organisations that must write in two languages (public bodies in Wales: Welsh first,
then English) send everyone one email with both. It is made from each language's own
parts, so each part reads exactly as that language's separate version would:

| part of the email | made from |
|---|---|
| subject, preheader | each language's, joined by " / " |
| masthead | the name once, each language's period joined by " / " |
| top of the body | a link to each later language's part, in that language's words |
| body | each language's `content` block of `<template>.html`, in a `<div lang>` |
| footer | the organisation once, then each language's `footer_words` block of the layout |
| text part | `<template>.txt`'s `content` and `footer_words` blocks, in the same order |

Each part is rendered with its language's catalogue, config texts (`Config.in_language`)
and item texts (`Issue.in_language`); the frame (`stacked.html`, `stacked.txt`) joins
them, and the CSS is inlined once over the whole. Section anchors get the language as a
prefix (`cy-theme-neglect`), so each part's contents jump within that part. Each part's
greeting has its own slot (`greeting_cy`), which compose fills per recipient.

`render_version` is the one entry: the plain `render_issue` when the config does not
stack, so build and variants never ask which layout they are in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jinja2
from markupsafe import Markup

from newsletter.config import Config, format_period, language_name, translations
from newsletter.issue.render import (
    RenderedIssue,
    fit_to_clip,
    greeting_slot,
    issue_context,
    preheader_for,
    render_issue,
    render_parts,
    render_template,
    slot,
    subject_for,
    template_environment,
)
from newsletter.issue.selection import Issue

__all__ = ["Words", "render_version"]

Words = Callable[[Config, Issue], tuple[str, str, dict[str, Any]]]  # a language's subject, preheader, extra context
SEPARATOR = " / "


@dataclass(frozen=True)
class _Part:
    """One language's share of the email: its config and issue, and its own words."""

    tag: str
    config: Config
    issue: Issue
    subject: str
    preheader: str
    extra: dict[str, Any]


def render_version(issue: Issue, config: Config, *, env: jinja2.Environment | None = None,
                   envs: dict[str, jinja2.Environment] | None = None, template: str = "email",
                   words: Words | None = None) -> RenderedIssue:
    """The email for `issue`: one language (`render_issue`), or every language of a config
    that stacks them. `words` gives a language's subject, preheader and extra context (the
    quiet-month note has its own); `envs` keeps each language's template environment
    between calls (one per language, like `env` for one)."""
    if not config.stacked_languages:
        subject, preheader, extra = words(config, issue) if words else (None, None, None)
        return render_issue(issue, config, env=env, template=template, subject=subject,
                            preheader=preheader, extra=extra)
    parts = []
    for tag in config.stacked_languages:
        own, text = config.in_language(tag), issue.in_language(tag)
        subject, preheader, extra = words(own, text) if words else (subject_for(own, text), preheader_for(own, text), {})
        parts.append(_Part(tag, own, text, subject, preheader, extra))
    return _stacked(parts, config, {} if envs is None else envs, template)


def _stacked(parts: list[_Part], config: Config, envs: dict[str, jinja2.Environment], template: str) -> RenderedIssue:
    """The parts joined in one email; the short excerpt instead when Gmail would clip it
    (as `render_issue` decides for one language)."""
    for part in parts:
        if part.tag not in envs:
            envs[part.tag] = template_environment(part.config)
    subject = SEPARATOR.join(part.subject for part in parts)
    preheader = SEPARATOR.join(part.preheader for part in parts)
    return fit_to_clip(lambda name: _join(parts, envs, name, subject, preheader), template, config, parts[0].issue,
                       subject, preheader,
                       advice="fewer items, shorter summaries or a leaner template, or language_layout: separate")


def _join(parts: list[_Part], envs: dict[str, jinja2.Environment], template: str, subject: str,
          preheader: str) -> tuple[str, str, float]:
    """Each part's blocks rendered in its language, then the frame around them, inlined."""
    footers = [part.config.footer for part in parts]
    shares = [_share(part, envs[part.tag], template, repeated=footers[i] in footers[:i])
              for i, part in enumerate(parts)]
    first = parts[0]
    context = {
        **issue_context(first.config, first.issue, subject, preheader),
        "parts": shares,
        "period": SEPARATOR.join(dict.fromkeys(format_period(p.issue.range, p.tag) for p in parts)),
    }
    return render_parts(envs[first.tag], "stacked", context)


def _share(part: _Part, env: jinja2.Environment, template: str, *, repeated: bool) -> dict[str, Any]:
    """One language's blocks and the words that point to them, for the frame. A `footer`
    given as one text (the same in every language) shows once, in the first part."""
    prefix = part.tag.lower()
    context = {**issue_context(part.config, part.issue, part.subject, part.preheader), **part.extra}
    context["sections"] = [{**s, "anchor": f"{prefix}-{s['anchor']}"} for s in context["sections"]]
    context["contents_anchor"] = f"{prefix}-contents"
    context["greeting"] = slot(greeting_slot(part.tag))
    if repeated:
        context["footer"] = None
    words = translations(part.tag, part.config.locale_dir)
    return {
        "lang": part.tag,
        "anchor": f"lang-{prefix}",
        "name": language_name(part.tag),
        # the link to this part, in its own language: translators name their own language
        "jump": words.gettext("Read this newsletter in English"),
        "html": Markup(render_template(env, f"{template}.html", context, "content")),
        "footer_html": Markup(render_template(env, "email_layout.html", context, "footer_words")),
        "text": render_template(env, f"{template}.txt", context, "content"),
        "footer_text": render_template(env, f"{template}.txt", context, "footer_words"),
    }
