"""`newsletter.yaml`: defaults, secrets kept out, every error at once."""

from __future__ import annotations

import pytest

from newsletter.config.loader import load_config
from newsletter.errors import NewsletterError


def test_sample_config_loads(config):
    assert config.name == "Safeguarding digest"
    assert config.sender_address == "digest@example.org"
    assert config.themes[0] == "Domestic abuse"
    assert config.smtp is None  # the embedded outbox by default
    assert config.list_id == "safeguarding-digest.example.org"
    assert config.items_dir == config.root / "items"


def test_theme_matching_ignores_case_and_spacing(config):
    assert config.theme_named("youth  VIOLENCE") == "Youth violence"
    assert config.theme_named("Youth-violence") == "Youth violence"
    assert config.theme_named("Youth") is None


def test_every_error_at_once(tmp_path):
    path = tmp_path / "newsletter.yaml"
    path.write_text(
        "name: Digest\n"
        "from: not an address\n"
        "themes: []\n"
        "colour: red\n"
        "unsubscribe: {url: 'ftp://x', mailto: u@example.org}\n"
        "smtp: {host: smtp.example.org, password: hunter2, security: ssl}\n"
    )
    with pytest.raises(NewsletterError) as info:
        load_config(path)
    lines = info.value.lines()
    assert f"{path}:4: colour: unknown setting" in lines[0]
    assert any(":2: from: not an email address: 'not an address'" in line for line in lines)
    assert any(":3: themes: must be a list of theme names" in line for line in lines)
    assert any(":5: url: not a web address: 'ftp://x'" in line for line in lines)
    assert any("password: secrets do not belong in the config" in line for line in lines)
    assert any("security: unknown value 'ssl' (use starttls, tls or none)" in line for line in lines)
    assert "hunter2" not in "\n".join(lines)


def test_missing_config_file_says_how_to_fix(tmp_path):
    with pytest.raises(NewsletterError) as info:
        load_config(tmp_path / "newsletter.yaml")
    assert str(info.value).endswith("config file not found (run the command in your newsletter folder "
                                    "or pass --config FILE)")


def test_errors_in_optional_text_keys_are_reported_too(tmp_path):
    from support.themekit import REPO

    path = tmp_path / "newsletter.yaml"
    path.write_text((REPO / "newsletter.yaml").read_text() + "reply_to: [a, b]\nlanguage: {x: 1}\n")
    with pytest.raises(NewsletterError) as info:
        load_config(path)
    lines = info.value.lines()
    assert any("reply_to: must be text" in line for line in lines)
    assert any("language: must be text" in line for line in lines)


def test_languages_lists_the_languages_readers_may_have(tmp_path):
    from support.themekit import REPO

    sample = (REPO / "newsletter.yaml").read_text()
    path = tmp_path / "newsletter.yaml"
    path.write_text(sample + "languages: [cy, en-GB]\n")
    assert load_config(path).languages == ("cy", "en-GB")
    path.write_text(sample)
    assert load_config(path).languages == ("en-GB",)  # the config's `language` alone
    path.write_text(sample + "languages: [cy, xx-nope]\n")
    with pytest.raises(NewsletterError) as info:
        load_config(path)
    [line] = info.value.lines()
    assert line.startswith(f"{path}:{sample.count(chr(10)) + 1}: languages: 'xx-nope': ")
