"""The documentation keeps up with the tool: the README stays a short front door whose links
all lead somewhere in the repository, every page is reachable, and the configuration
reference names every key the config loader accepts. (`mkdocs build --strict` in
.ci/run checks the site's own links and anchors; this needs no MkDocs.)"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import yaml
from support.themekit import REPO

from newsletter.cli import ALIASES, COMMANDS, main
from newsletter.config import SECTIONS

DOCS = REPO / "docs"
LINK = re.compile(r"\]\(([^)\s]+)\)|src=\"([^\"]+)\"")


def links_in(path: Path) -> list[str]:
    return [a or b for a, b in LINK.findall(path.read_text(encoding="utf-8"))]


def nav_pages(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [page for value in node.values() for page in nav_pages(value)]
    if isinstance(node, list):
        return [page for value in node for page in nav_pages(value)]
    return []


def test_readme_is_a_short_front_door_linking_only_inside_the_repository():
    readme = REPO / "README.md"
    assert readme.stat().st_size < 12 * 1024
    text = readme.read_text(encoding="utf-8")
    assert "python -m pytest" in text
    links = links_in(readme)
    assert links, "the README maps the docs"
    for link in links:
        assert not re.match(r"[a-z]+:", link), f"README links outside the repository: {link}"
        assert (REPO / link.split("#")[0]).exists(), f"README links to a missing file: {link}"


def test_every_page_is_in_the_nav_and_every_nav_entry_exists():
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    nav = nav_pages(config["nav"])
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(nav) == pages


@pytest.mark.parametrize("page", sorted(DOCS.rglob("*.md")), ids=lambda p: str(p.relative_to(DOCS)))
def test_relative_links_in_the_docs_point_at_files_that_exist(page: Path):
    for link in links_in(page):
        target = link.split("#")[0]
        if re.match(r"[a-z]+:", link) or not target:
            continue
        assert (page.parent / target).resolve().exists(), f"{page.name}: missing {link}"


def test_the_screenshots_the_docs_show_are_committed():
    shown = {Path(link).name for page in [*DOCS.rglob("*.md"), REPO / "README.md"]
             for link in links_in(page) if link.endswith(".png")}
    assert {"email-600-light.png", "email-375-dark.png", "preview.png", "unsubscribe.png"} <= shown
    for name in shown:
        assert (DOCS / "img" / name).stat().st_size < 200 * 1024, f"{name} is too large"


def test_the_configuration_reference_names_every_key_the_loader_accepts():
    """The loader accepts exactly the keys of the key table (tests/config/test_schema.py)."""
    text = (DOCS / "reference" / "config.md").read_text(encoding="utf-8")
    missing = [f"{name}.{key}".lstrip(".") for name, section in SECTIONS.items()
               for key in section.names if f"| `{key}` |" not in text]
    assert missing == []


def test_the_command_reference_is_generated_from_every_lazily_loaded_command():
    """mkdocs-click walks `list_commands`/`get_command`, as `--help` does: each command of
    the lazy COMMANDS map must come back under its own name to get its section."""
    text = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    assert ":module: newsletter.cli" in text and ":command: main" in text
    ctx = click.Context(main, info_name="newsletter")
    names = main.list_commands(ctx)
    assert set(COMMANDS) - set(ALIASES) <= set(names) and not set(ALIASES) & set(names)  # aliases listed nowhere
    for name in names:
        command = main.get_command(ctx, name)
        assert command is not None and command.name == name


def _rule_ids() -> set[str]:
    """Every rule id the issue checks can report, read from their source."""
    found: set[str] = set()
    sources = [*(REPO / "newsletter" / "issue" / "checks").glob("*.py"), REPO / "newsletter" / "issue" / "probe.py"]
    for path in sources:
        source = path.read_text(encoding="utf-8")
        found |= set(re.findall(r"\b(?:error|warning|note)\(\s*\"([a-z][a-z0-9-]+)\"", source))
        found |= set(re.findall(r"\bFinding\(\s*\"([a-z][a-z0-9-]+)\"", source))
    return found


def test_the_checks_reference_lists_every_rule() -> None:
    page = (DOCS / "reference" / "checks.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`([a-z][a-z0-9-]+)`", page))
    rules = _rule_ids()
    assert {"html-size", "mso-markup", "unsubscribe-route", "clip-excerpt", "link-broken"} <= rules
    assert sorted(rules - listed) == []
