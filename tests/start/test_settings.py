"""The config `init` writes lists every key of the key table, commented out with its default
or an example, and removing the `# ` from every such line gives a config that loads."""

from __future__ import annotations

import re

import yaml

from newsletter.config import SECTIONS, load_config
from newsletter.start.folder import FolderPlan, config_text

PLAN = FolderPlan("Parish news", "Parish office <news@parish.example>", ("Services", "Notices"))
SETTING = re.compile(r"^# ( *(?:- )?[a-z_]+:(?: |$).*)$")  # a commented setting; prose starts otherwise


def uncommented(text: str) -> str:
    return "\n".join(m[1] if (m := SETTING.match(line)) else line for line in text.splitlines()) + "\n"


def test_init_lists_every_key_of_the_table() -> None:
    data = yaml.safe_load(uncommented(config_text(PLAN)))
    missing = [name for name in SECTIONS[""].names if name not in data]
    for name, section in SECTIONS.items():
        if name:
            value = data.get(name)
            keys = value[0] if isinstance(value, list) else value or {}
            missing += [f"{name}.{key}" for key in section.names if key not in keys]
    assert missing == []


def test_every_commented_setting_of_init_works_once_uncommented(tmp_path) -> None:
    path = tmp_path / "newsletter.yaml"
    path.write_text(uncommented(config_text(PLAN)))
    config = load_config(path)
    assert config.smtp is not None and config.smtp.host == "smtp.parish.example"
    assert config.sources[0].theme == "Services" and config.theme_rules == {"Services": ["neglect*", "tag:domestic abuse"]}
    assert config.reply_to == PLAN.sender


def test_the_config_as_written_uses_the_defaults(tmp_path) -> None:
    path = tmp_path / "newsletter.yaml"
    path.write_text(config_text(PLAN))
    config = load_config(path)
    assert config.smtp is None and config.subscribe is None and config.logo is None
