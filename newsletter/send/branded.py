"""The HTML part of a mail to one person (the sign-up confirmation; later a welcome) in
the issue's brand: logo, organisation footer, the palette and its dark mode.

One place renders them so every such mail looks like the digest: the template extends
`mail_layout.html` (which includes the issue's `email.css`), gets the same brand context
as the issue and the subscriber site, and is inlined by the issue's own inliner. The
officer's `templates/` folder overrides any of them as it does the issue's.

Rendering and inlining take about 25 ms, too long to repeat for every sign-up on the
site's event loop, so, as the issue does per recipient, a template is rendered once per
config with slot markers for the per-mail values, and each mail only fills them in
(HTML-escaped). A template edited while `serve` runs is used after a restart.
"""

from __future__ import annotations

from markupsafe import escape

from newsletter.config import Config, palette_for
from newsletter.issue import inline_css, slot, template_environment

__all__ = ["branded_html"]

_MAX_CACHED = 16
_cache: dict[tuple[int, str, str, tuple[str, ...]], tuple[Config, str]] = {}


def branded_html(config: Config, template: str, *, subject: str, **values: str) -> str:
    """`template` with the brand and `values` (escaped), CSS inlined; rendered once per config."""
    key = (id(config), template, subject, tuple(sorted(values)))
    cached = _cache.get(key)
    if cached is None or cached[0] is not config:  # the id of a config that is gone may be reused
        if len(_cache) >= _MAX_CACHED:
            _cache.clear()
        cached = _cache[key] = (config, _render(config, template, subject, list(values)))
    html = cached[1]
    for name, value in values.items():
        html = html.replace(slot(name), str(escape(value)))
    return html


def _render(config: Config, template: str, subject: str, names: list[str]) -> str:
    palette = palette_for(config.colors)
    html = template_environment(config).get_template(template).render(
        name=config.name, lang=config.language, subject=subject, colors=config.colors,
        light=palette.light, dark=palette.dark, logo=config.logo, organisation=config.organisation,
        **{name: slot(name) for name in names},
    )
    return inline_css(html)
