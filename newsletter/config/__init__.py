"""The config stage: `newsletter.yaml` in, a typed `Config` out.

Takes the path of the config file; gives `Config` (paths resolved beside the file,
defaults filled in, every error at once as `newsletter.yaml:LINE` lines). Secrets are
never read here: the config only names where they live.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter.faces import load

if TYPE_CHECKING:
    from newsletter.config.loader import _TOP_KEYS, Config, load_config
    from newsletter.config.palette import AA_CONTRAST, contrast_ratio, palette_for, scheme_pairs
    from newsletter.config.sections import Colors, DkimConfig, SmtpConfig, SourceConfig, SubscribeConfig, theme_key
    from newsletter.config.urls import route_path

# name -> the module that defines it, imported on first use (PEP 562), so that importing
# one name loads only what that name needs.
_EXPORTS = {
    "_TOP_KEYS": "newsletter.config.loader",
    "AA_CONTRAST": "newsletter.config.palette",
    "Colors": "newsletter.config.sections",
    "Config": "newsletter.config.loader",
    "contrast_ratio": "newsletter.config.palette",
    "DkimConfig": "newsletter.config.sections",
    "load_config": "newsletter.config.loader",
    "palette_for": "newsletter.config.palette",
    "route_path": "newsletter.config.urls",
    "scheme_pairs": "newsletter.config.palette",
    "SmtpConfig": "newsletter.config.sections",
    "SourceConfig": "newsletter.config.sections",
    "SubscribeConfig": "newsletter.config.sections",
    "theme_key": "newsletter.config.sections",
}

__all__ = [
    "_TOP_KEYS",
    "AA_CONTRAST",
    "Colors",
    "Config",
    "contrast_ratio",
    "DkimConfig",
    "load_config",
    "palette_for",
    "route_path",
    "scheme_pairs",
    "SmtpConfig",
    "SourceConfig",
    "SubscribeConfig",
    "theme_key",
]


def __getattr__(name: str) -> object:
    return load(__name__, _EXPORTS, name)
