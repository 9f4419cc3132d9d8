"""The pipeline's direction: `deliver` is handed plain values (it reads no config), and
`issue` takes theme selections (it knows nothing of the audience). Checked on the source,
imports inside functions included, so no late import slips an arrow back up the pipeline."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "newsletter"


def _imports(stage: str) -> dict[str, list[str]]:
    """Every `newsletter.*` module each file of `stage` imports, by file."""
    found: dict[str, list[str]] = {}
    for path in sorted((PACKAGE / stage).rglob("*.py")):
        names = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names += [a.name for a in node.names]
        found[str(path.relative_to(PACKAGE))] = [n for n in names if n.startswith("newsletter")]
    return found


@pytest.mark.parametrize(("stage", "forbidden"), [("deliver", "newsletter.config"),
                                                  ("issue", "newsletter.audience"),
                                                  ("deliver", "newsletter.send"),
                                                  ("issue", "newsletter.send")])
def test_no_stage_imports_against_the_pipeline(stage: str, forbidden: str) -> None:
    wrong = {file: [n for n in names if n == forbidden or n.startswith(forbidden + ".")]
             for file, names in _imports(stage).items()}
    assert {file: names for file, names in wrong.items() if names} == {}


def test_the_check_finds_a_wrong_arrow() -> None:
    """The walk does see imports (a check that sees nothing would always pass)."""
    assert "newsletter.config.loader" in _imports("issue")["issue/build.py"]
