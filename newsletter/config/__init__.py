"""The config stage: `newsletter.yaml` in, a typed `Config` out.

Takes the path of the config file; gives `Config` (paths resolved beside the file,
defaults filled in, every error at once as `newsletter.yaml:LINE` lines). Secrets are
never read here: the config only names where they live. `SECTIONS` is the table of
every key (kind, default, help) that the loader, the reference and `init` share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter import load_face

if TYPE_CHECKING:
    from newsletter.config.approval import zone_of
    from newsletter.config.brand import Logo
    from newsletter.config.i18n import (
        babel_locale,
        format_day,
        format_month,
        format_number,
        format_period,
        format_span,
        language_name,
        language_problem,
        pick_text,
        translations,
    )
    from newsletter.config.loader import Config, load_config
    from newsletter.config.palette import AA_CONTRAST, contrast_ratio, palette_for, scheme_pairs
    from newsletter.config.schema import DEFAULT_CONSENT, REQUIRED, SECTIONS, Key
    from newsletter.config.sections import Colors, DkimConfig, SmtpConfig, SourceConfig, SubscribeConfig, theme_key
    from newsletter.config.selections import Selection, describe, ordered, selection_of, stored_choice, unknown_theme_error
    from newsletter.config.urls import route_path

# name -> the module that defines it, imported on first use (PEP 562), so that importing
# one name loads only what that name needs.
_EXPORTS = {
    "AA_CONTRAST": "newsletter.config.palette",
    "babel_locale": "newsletter.config.i18n",
    "Colors": "newsletter.config.sections",
    "Config": "newsletter.config.loader",
    "contrast_ratio": "newsletter.config.palette",
    "DEFAULT_CONSENT": "newsletter.config.schema",
    "describe": "newsletter.config.selections",
    "DkimConfig": "newsletter.config.sections",
    "format_day": "newsletter.config.i18n",
    "format_month": "newsletter.config.i18n",
    "format_number": "newsletter.config.i18n",
    "format_period": "newsletter.config.i18n",
    "format_span": "newsletter.config.i18n",
    "Key": "newsletter.config.schema",
    "language_name": "newsletter.config.i18n",
    "language_problem": "newsletter.config.i18n",
    "load_config": "newsletter.config.loader",
    "Logo": "newsletter.config.brand",
    "ordered": "newsletter.config.selections",
    "palette_for": "newsletter.config.palette",
    "pick_text": "newsletter.config.i18n",
    "REQUIRED": "newsletter.config.schema",
    "route_path": "newsletter.config.urls",
    "scheme_pairs": "newsletter.config.palette",
    "SECTIONS": "newsletter.config.schema",
    "Selection": "newsletter.config.selections",
    "selection_of": "newsletter.config.selections",
    "SmtpConfig": "newsletter.config.sections",
    "SourceConfig": "newsletter.config.sections",
    "stored_choice": "newsletter.config.selections",
    "SubscribeConfig": "newsletter.config.sections",
    "theme_key": "newsletter.config.sections",
    "translations": "newsletter.config.i18n",
    "unknown_theme_error": "newsletter.config.selections",
    "zone_of": "newsletter.config.approval",
}

__all__ = [
    "AA_CONTRAST",
    "babel_locale",
    "Colors",
    "Config",
    "contrast_ratio",
    "DEFAULT_CONSENT",
    "describe",
    "DkimConfig",
    "format_day",
    "format_month",
    "format_number",
    "format_period",
    "format_span",
    "Key",
    "language_name",
    "language_problem",
    "load_config",
    "Logo",
    "ordered",
    "palette_for",
    "pick_text",
    "REQUIRED",
    "route_path",
    "scheme_pairs",
    "SECTIONS",
    "Selection",
    "selection_of",
    "SmtpConfig",
    "SourceConfig",
    "stored_choice",
    "SubscribeConfig",
    "theme_key",
    "translations",
    "unknown_theme_error",
    "zone_of",
]


def __getattr__(name: str) -> object:
    return load_face(__name__, _EXPORTS, name)
