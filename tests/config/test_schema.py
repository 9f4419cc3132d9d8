"""The key table (config/schema.py) is the one description of the config: the loader
accepts exactly its keys and fills in its defaults, the dataclasses have its keys and
defaults, and the committed configuration reference shows its tables as they are now."""

from __future__ import annotations

import dataclasses

import pytest
from support.themekit import REPO

from newsletter.config.brand import Logo, Organisation
from newsletter.config.loader import load_config
from newsletter.config.reference import render_page
from newsletter.config.schema import REQUIRED, SECTIONS
from newsletter.config.sections import Colors, DkimConfig, SmtpConfig, SourceConfig, SubscribeConfig
from newsletter.errors import NewsletterError

REFERENCE = REPO / "docs" / "reference" / "config.md"
DATACLASSES = {"smtp": SmtpConfig, "colors": Colors, "dkim": DkimConfig, "sources": SourceConfig,
               "subscribe": SubscribeConfig, "logo": Logo, "organisation": Organisation}


def test_the_committed_reference_shows_the_table_as_it_is() -> None:
    page = REFERENCE.read_text(encoding="utf-8")
    assert page.count("<!-- keys: ") == len(SECTIONS), "every section of the table has a table on the page"
    assert render_page(page) == page, "run: python -m newsletter.config.reference docs/reference/config.md"


@pytest.mark.parametrize("name", sorted(DATACLASSES))
def test_each_section_dataclass_has_the_tables_keys_and_defaults(name: str) -> None:
    section = SECTIONS[name]
    fields = {f.name: f.default for f in dataclasses.fields(DATACLASSES[name])}
    assert set(fields) == set(section.names)
    for key in section.keys:
        if key.default is not REQUIRED and fields[key.name] is not dataclasses.MISSING:
            assert fields[key.name] == key.default, key.name


def minimal(tmp_path, extra: str = ""):
    path = tmp_path / "newsletter.yaml"
    path.write_text("name: Digest\nfrom: Team <news@example.org>\nthemes: [News]\n"
                    "unsubscribe: {url: https://example.org/unsubscribe, mailto: u@example.org}\n" + extra)
    return path


def test_the_loader_fills_in_the_tables_defaults(tmp_path) -> None:
    config = load_config(minimal(tmp_path, "smtp: {host: smtp.example.org}\nsubscribe: {url: https://example.org/join}\n"))
    assert config.smtp is not None and config.subscribe is not None
    for section, value in (("smtp", config.smtp), ("subscribe", config.subscribe), ("colors", config.colors)):
        for key in SECTIONS[section].keys:
            if key.default not in (REQUIRED, None) and key.name != "consent":
                assert getattr(value, key.name) == key.default, f"{section}.{key.name}"
    top, tokens = SECTIONS[""], SECTIONS["tokens"]
    assert (config.subject, config.language, config.buttons) == (
        top.default("subject"), top.default("language"), top.default("buttons"))
    assert (config.secret_env, config.old_secrets_env) == (tokens.default("secret_env"), tokens.default("old_secrets_env"))
    assert config.soft_bounce_limit == SECTIONS["bounces"].default("soft_limit")
    assert config.sample_recipient == tuple(SECTIONS["sample_recipient"].default(k) for k in ("name", "email"))


@pytest.mark.parametrize("name", sorted(n for n in SECTIONS if n not in ("", "sources", "unsubscribe")))
def test_an_unknown_key_is_refused_with_the_tables_keys_offered(tmp_path, name: str) -> None:
    key = SECTIONS[name].names[-1]
    with pytest.raises(NewsletterError) as info:
        load_config(minimal(tmp_path, f"{name}:\n  {key}x: 1\n"))
    assert any(f"{key}x: unknown setting in {name} (did you mean {key!r}?)" in line for line in info.value.lines())


def test_the_pools_own_defaults_agree_with_the_table() -> None:
    """`deliver` may not read the config (it sits beside it), so its `Transport` keeps
    defaults of its own for callers that name none; they must be the table's."""
    from newsletter.deliver import Transport

    fields = {f.name: f.default for f in dataclasses.fields(Transport)}
    shared = [key for key in SECTIONS["smtp"].keys
              if fields.get(key.name, dataclasses.MISSING) is not dataclasses.MISSING and key.default is not REQUIRED]
    assert len(shared) >= 8
    assert {k.name: fields[k.name] for k in shared} == {k.name: k.default for k in shared}
