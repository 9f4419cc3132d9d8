"""Every third-party package the code imports is declared in pyproject.toml, so a fresh
install (what `.ci/run` makes, what a new user gets) has it: the package's own code needs
only the main dependencies; tests and benchmarks may add the `test` extra; the docs'
scripts the `docs` and `test` extras."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

import pytest
from support.themekit import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# our own packages, the tests' helpers and the benchmarks (some tests reuse a benchmark's corpus)
LOCAL = {"newsletter", "support", "conftest", *(p.stem for p in (REPO / "bench").glob("*.py"))}


def _name(requirement: str) -> str:
    """`flufl.bounce>=6.0` -> `flufl-bounce`: a distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]).lower()


def declared(*extras: str) -> set[str]:
    names = PROJECT["dependencies"] + [r for extra in extras for r in PROJECT["optional-dependencies"][extra]]
    return {_name(r) for r in names}


def imported(folder: str) -> dict[str, str]:
    """Top-level module name -> the first file importing it, for every absolute import."""
    found: dict[str, str] = {}
    for path in sorted((REPO / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(REPO)))
    siblings = {p.stem for p in (REPO / folder).rglob("*.py")} | {p.name for p in (REPO / folder).rglob("*")}
    return {m: f for m, f in found.items() if m not in sys.stdlib_module_names and m not in LOCAL | siblings}


@pytest.mark.parametrize(("folder", "extras"), [("newsletter", ()), ("tests", ("test",)), ("bench", ("test",)),
                                                ("docs", ("docs", "test"))])
def test_every_imported_package_is_declared(folder: str, extras: tuple[str, ...]) -> None:
    providers = packages_distributions()
    allowed = declared(*extras)
    missing = []
    for module, where in imported(folder).items():
        distributions = {_name(d) for d in providers.get(module, [module])}
        if not distributions & allowed:
            missing.append(f"{module} ({where}; from {', '.join(sorted(distributions))})")
    assert missing == []


def test_upper_bounds_only_where_the_code_relies_on_internals() -> None:
    bounded = {_name(r) for r in PROJECT["dependencies"] if "<" in r}
    assert bounded == {"aiosmtplib", "pyyaml"}
