"""The config stage: `newsletter.yaml` in, a typed `Config` out.

Takes the path of the config file; gives `Config` (paths resolved beside the file,
defaults filled in, every error at once as `newsletter.yaml:LINE` lines). Secrets are
never read here: the config only names where they live. `SECTIONS` is the table of
every key (kind, default, help) that the loader, the reference and `init` share.
"""

from __future__ import annotations

from newsletter.config.loader import Config, load_config
from newsletter.config.schema import REQUIRED, SECTIONS, Key
from newsletter.config.sections import (
    Colors,
    DkimConfig,
    SmtpConfig,
    SourceConfig,
    theme_key,
)
from newsletter.config.selections import Selection, selection_of

__all__ = ["REQUIRED", "SECTIONS", "Colors", "Config", "DkimConfig", "Key", "Selection", "SmtpConfig", "SourceConfig",
           "load_config", "selection_of", "theme_key"]
