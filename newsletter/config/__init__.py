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
    "Colors": "newsletter.config.sections",
    "Config": "newsletter.config.loader",
    "contrast_ratio": "newsletter.config.palette",
    "DEFAULT_CONSENT": "newsletter.config.schema",
    "describe": "newsletter.config.selections",
    "DkimConfig": "newsletter.config.sections",
    "Key": "newsletter.config.schema",
    "load_config": "newsletter.config.loader",
    "Logo": "newsletter.config.brand",
    "ordered": "newsletter.config.selections",
    "palette_for": "newsletter.config.palette",
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
    "unknown_theme_error": "newsletter.config.selections",
    "zone_of": "newsletter.config.approval",
}

__all__ = [
    "AA_CONTRAST",
    "Colors",
    "Config",
    "contrast_ratio",
    "DEFAULT_CONSENT",
    "describe",
    "DkimConfig",
    "Key",
    "load_config",
    "Logo",
    "ordered",
    "palette_for",
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
    "unknown_theme_error",
    "zone_of",
]


def __getattr__(name: str) -> object:
    return load_face(__name__, _EXPORTS, name)
