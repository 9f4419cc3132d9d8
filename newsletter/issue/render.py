"""Render an `Issue` into the email's HTML (CSS inlined once) and its plain-text part.

Per-recipient values (greeting, unsubscribe and preferences links) are left as slot
markers; `compose` fills them per recipient without rendering again.
"""

from __future__ import annotations

import re
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup

from newsletter.config import Config, format_day, format_month, format_number, format_period, palette_for, translations
from newsletter.errors import BuildError
from newsletter.issue.counted import canary_url, link_counter
from newsletter.issue.inline import compact_style, inline_css, tidy_html, tidy_text
from newsletter.issue.items import Item
from newsletter.issue.selection import Issue
from newsletter.issue.summary import shorten_summary, summary_html, summary_text, teaser
from newsletter.issue.wire import CLIP_BYTES, EXCERPT_BYTES, sent_bytes

__all__ = ["RenderedIssue", "render_issue", "SLOTS", "slot", "greeting_slot", "GMAIL_CLIP_BYTES",
           "template_environment", "issue_context", "render_template", "render_parts", "subject_for", "preheader_for",
           "fit_to_clip"]

GMAIL_CLIP_BYTES = CLIP_BYTES
DEFAULT_TEMPLATES = Path(__file__).parent.parent / "templates"
SLOTS = ("greeting", "unsubscribe_url", "preferences_url")
_SLOT_RE = re.compile(r"@@nl:([a-z0-9_]+)@@")


def slot(name: str) -> str:
    """The marker left in the rendered parts for a per-recipient value."""
    return f"@@nl:{name}@@"


def greeting_slot(tag: str) -> str:
    """The slot of the greeting in language `tag`, in an email stacking languages
    (`greeting_cy`, `greeting_en_us`): each language's part greets in its own words."""
    return "greeting_" + re.sub(r"[^a-z0-9]+", "_", tag.lower())


@dataclass(frozen=True)
class RenderedIssue:
    issue: Issue
    subject: str
    preheader: str
    html: str  # inlined, with slot markers
    text: str  # wrapped, with slot markers
    inline_seconds: float = 0.0
    warnings: tuple[str, ...] = field(default_factory=tuple)
    sent_bytes: int = 0  # the HTML part as sent (CRLF, quoted-printable): what Gmail's clip counts
    excerpt_of: int = 0  # built as the excerpt because the full email would have been this big as sent

    @property
    def excerpt(self) -> bool:
        return self.excerpt_of > 0

    @property
    def html_bytes(self) -> int:
        return len(self.html.encode("utf-8"))


def template_environment(config: Config) -> jinja2.Environment:
    """Jinja2 over the officer's template folder first, then the bundled defaults."""
    folders = [str(DEFAULT_TEMPLATES)]
    own = config.templates or config.root / "templates"
    if own.is_dir():
        folders.insert(0, str(own))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm"), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.filters["wrap"] = wrap_text
    install_language(env, config)
    env.filters["counted"] = counted_url
    return env


def install_language(env: jinja2.Environment, config: Config) -> None:
    """The words of `config.language` for `{% trans %}` and `_()`, its dates and numbers as
    filters (`day`, `month`, `number`). Whitespace inside a `{% trans %}` block is collapsed,
    so a sentence may wrap in the template (babel.cfg extracts with `trimmed` too)."""
    language = config.language
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations(language, config.locale_dir), newstyle=True)  # type: ignore[attr-defined]
    env.filters["day"] = lambda day: format_day(day, language)
    env.filters["month"] = lambda day: format_month(day, language)
    env.filters["number"] = lambda number: format_number(number, language)


def wrap_text(text: str, width: int = 72, indent: str = "") -> str:
    """Wrap each paragraph near `width` columns; URLs and long words are never broken."""
    out = []
    for para in str(text).split("\n"):
        if not para.strip():
            out.append("")
            continue
        lead = re.match(r"^(- |\d+\. |\[\d+\] )", para)
        hang = indent + " " * len(lead.group(0)) if lead else indent
        out.append(textwrap.fill(para, width, initial_indent=indent, subsequent_indent=hang,
                                 break_long_words=False, break_on_hyphens=False))
    return "\n".join(out)


@jinja2.pass_context
def counted_url(context: Any, url: str) -> str:
    """`{{ link.url | counted }}`: the counted `/r/` link when the render asks for one
    (`count_link` in its context: the email with tracking on), else the URL itself."""
    count = context.get("count_link")
    return count(url) if count is not None else url


def subject_for(config: Config, issue: Issue) -> str:
    period = format_period(issue.range, config.language)
    text = config.subject.format(name=config.name, period=period, month=period,
                                 count=len(issue.items), themes=", ".join(issue.themes))
    return " ".join(text.split())


def preheader_for(config: Config, issue: Issue) -> str:
    if config.preheader:
        return " ".join(config.preheader.split())
    words = translations(config.language, config.locale_dir)
    parts = [f"{s.theme} ({format_number(len(s.items), config.language)})" for s in issue.sections]
    count = len(issue.items)
    text = words.ngettext("%(count)s new item in this issue: %(themes)s", "%(count)s new items in this issue: %(themes)s",
                          count) % {"count": format_number(count, config.language), "themes": ", ".join(parts)}
    if len(text) < 60 and issue.items:  # inboxes show ~90 characters: name the newest item too
        text += f". {issue.items[0].title}"
    return text


def _entry(item: Item, config: Config, anchor: str, numbers: dict[str, int]) -> dict[str, Any]:
    """One item as the templates show it, with one call to action: its first link, as a
    button when `buttons` is on (else first in its list of links). A summary longer than
    `summary_words` is shortened only when there is such a call to read on with.

    `numbers` numbers every URL of the plain-text part once, in reading order, across the
    issue: `text_links` gives each link its number, and its URL only the first time."""
    summary, cut = item.summary, False
    if config.summary_words and item.links:
        summary, cut = shorten_summary(item.summary, config.summary_words)
    links = list(item.links)
    button = links.pop(0) if config.buttons and links else None
    call = item.links[0] if item.links else None
    text_links = []
    see_also = translations(config.language, config.locale_dir).gettext("See also:")
    for text, url in [*((f"{link.label}: {link.title}", link.url) for link in item.links),
                      *((f"{see_also} {s.title}", s.url) for s in item.see_also)]:
        first = url not in numbers
        number = numbers.setdefault(url, len(numbers) + 1)
        text_links.append({"number": number, "text": text, "url": url, "first": first})
    return {
        "item": item,
        "anchor": anchor,
        "date": format_day(item.date, config.language),
        "summary_html": Markup(summary_html(summary)),
        "summary_text": summary_text(summary),
        "call": call,
        "call_name": f"{call.label}: {item.title}" if call else "",
        "button": button,
        "button_width": _button_width(button.label) if button else 0,
        "links": links,
        "text_links": text_links,
        "teaser": teaser(item.summary),
    }


def _button_width(label: str) -> int:
    """Outlook's VML button has a fixed width: about 9 px a character at 16 px bold, plus padding."""
    return min(552, 48 + 9 * len(label))


def item_anchors(items: list[Item]) -> list[str]:
    """Each item's id on its archive page, decided as `archive/issues.py` does (title slug,
    numbered when repeated), so the excerpt's links land on the item itself."""
    seen: set[str] = set()
    anchors = []
    for item in items:
        slug = re.sub(r"[^a-z0-9]+", "-", item.title.casefold()).strip("-")
        if len(slug) > 60:
            slug = slug[:61].rsplit("-", 1)[0] if "-" in slug[:61] else slug[:60]
        anchor = base = "item-" + (slug or "x")
        n = 2
        while anchor in seen:
            anchor, n = f"{base}-{n}", n + 1
        seen.add(anchor)
        anchors.append(anchor)
    return anchors


def _website(config: Config) -> str | None:
    """The organisation's website, for notes that point readers online when there is no
    archive: the home page of its contact page (`https://example.org/contact` gives
    `https://example.org/`); None for an email contact."""
    contact = config.organisation.contact_url if config.organisation else None
    parts = urlsplit(contact or "")
    if parts.scheme not in ("https", "http") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}/"


def issue_context(config: Config, issue: Issue, subject: str, preheader: str) -> dict[str, Any]:
    web_url = config.issue_url(issue.range.slug)
    ordered = [item for s in issue.sections for item in s.items]
    anchors = dict(zip(map(id, ordered), item_anchors(ordered), strict=True))
    numbers: dict[str, int] = {}
    sections = [
        {
            "theme": s.theme,
            "anchor": s.anchor,
            "count": len(s.items),
            "entries": [_entry(item, config, anchors[id(item)], numbers) for item in s.items],
        }
        for s in issue.sections
    ]
    palette = palette_for(config.colors)
    return {
        "config": config,
        "name": config.name,
        "lang": config.language,
        "colors": config.colors,
        "palette": palette,
        "light": palette.light,
        "dark": palette.dark,
        "logo": config.logo,
        "organisation": config.organisation,
        "subject": subject,
        "preheader": preheader,
        "period": format_period(issue.range, config.language),
        "sections": sections,
        "contents_anchor": "contents",
        "item_count": len(issue.items),
        "web_url": web_url,
        "website_url": _website(config),
        "intro": config.intro,
        "footer": config.footer,
        "unsubscribe_mailto": config.unsubscribe_mailto,
        "has_preferences": bool(config.preferences_url),
        "greeting": slot("greeting"),
        "unsubscribe_url": slot("unsubscribe_url"),
        "preferences_url": slot("preferences_url"),
        "count_link": link_counter(config, issue.range.slug),
        "canary_url": canary_url(config, issue.range.slug),
    }


def render_template(env: jinja2.Environment, name: str, context: dict[str, Any], block: str | None = None) -> str:
    """Template `name` rendered, or only its `block` (stacked.py renders each language's
    `content` that way); a template error becomes a `BuildError` at its line."""
    try:
        template = env.get_template(name)
        if block is None:
            return template.render(context)
        render = template.blocks.get(block)
        if render is None:
            raise BuildError(f"{name} has no `{{% block {block} %}}`, which an email stacking languages needs",
                             hint="copy the block from the bundled template of that name "
                                  "(see the Templates reference), or use language_layout: separate")
        return "".join(render(template.new_context(context)))
    except jinja2.TemplateSyntaxError as exc:
        raise BuildError(f"template syntax error: {exc.message}", path=exc.filename or exc.name,
                         line=exc.lineno, hint="fix the template tag on that line") from exc
    except jinja2.TemplateNotFound as exc:
        raise BuildError(f"template not found: {exc.name}", hint="check the `templates` folder in the config") from exc
    except jinja2.UndefinedError as exc:
        raise BuildError(f"template error in {name}: {exc.message}",
                         hint="check the variable names used in the template") from exc


def render_issue(issue: Issue, config: Config, *, env: jinja2.Environment | None = None,
                 template: str = "email", subject: str | None = None, preheader: str | None = None,
                 extra: dict[str, Any] | None = None) -> RenderedIssue:
    """`template` names the pair `<template>.html`/`.txt` (the quiet-month note uses its own).

    An `email` that would pass Gmail's clip as sent is built as `excerpt.html`/`.txt`
    instead when the config's `clip_mode` is "excerpt" (titles and one-line teasers linking
    to the issue online); `excerpt_of` then says how big the full email would have been."""
    env = env or template_environment(config)
    subject = subject or subject_for(config, issue)
    preheader = preheader or preheader_for(config, issue)
    context = {**issue_context(config, issue, subject, preheader), **(extra or {})}
    return fit_to_clip(lambda name: render_parts(env, name, context), template, config, issue, subject, preheader,
                       advice="fewer items, shorter summaries or a leaner template")


def fit_to_clip(render: Callable[[str], tuple[str, str, float]], template: str, config: Config, issue: Issue,
                subject: str, preheader: str, *, advice: str) -> RenderedIssue:
    """`render(template)`; but an `email` that would pass Gmail's clip as sent is made from
    `excerpt` instead when the config's `clip_mode` is "excerpt" and the issue is online, and
    one still past the clip carries a warning with `advice`."""
    html, text, inline_seconds = render(template)
    size = sent_bytes(html)
    excerpt_of = 0
    if template == "email" and size > EXCERPT_BYTES and config.clip_mode == "excerpt" and config.archive_url:
        excerpt_of = size  # Gmail would clip it: the short email, linking to the issue online, instead
        html, text, more = render("excerpt")
        inline_seconds += more
        size = sent_bytes(html)
    warnings = []
    if size > CLIP_BYTES:
        warnings.append(f"email.html is {size / 1024:.0f} KB as sent: Gmail clips messages over 102 KB ({advice})")
    return RenderedIssue(issue, subject, preheader, html, text, inline_seconds, tuple(warnings), size, excerpt_of)


def render_parts(env: jinja2.Environment, template: str, context: dict[str, Any]) -> tuple[str, str, float]:
    """`<template>.html` rendered and inlined, `<template>.txt` rendered, and the inlining's seconds."""
    raw_html = render_template(env, f"{template}.html", context)
    started = time.perf_counter()
    html = inline_css(raw_html)
    inline_seconds = time.perf_counter() - started
    html = tidy_html(compact_style(html))
    text = tidy_text(render_template(env, f"{template}.txt", context))
    return html, text, inline_seconds
