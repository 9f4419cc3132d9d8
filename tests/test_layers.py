"""The layers contract: the pipeline's direction, the doors between stages, no cycles.

Read from the source (the AST of every module, function-level and `TYPE_CHECKING`
imports included), so a wrong import fails here before it can fail at run time:

(a) Layers, top to bottom (`LAYERS`). A module imports only from its own unit or from a
    layer below; never upward, never sideways across `|`. Units on one layer without a
    `|` between them (`golive, preview, site, start`) may import each other.
(b) Doors. Across stages, code imports a stage only through its face, `newsletter.<stage>`,
    and only names in the face's `__all__`. Inside a stage, modules import each other
    directly, never through their own face. Tests: tests/<stage>/ may import the
    internals of newsletter/<stage>/ (that is what they test); every other test module
    (tests/support/, tests/browser/, tests/test_*.py) and docs/*.py use faces. bench/
    and tests/support/ use faces too, and may also import a stage's module object
    (`import newsletter.send.signupmail as signupmail`) to instrument it.
(c) No import cycles between modules (a face import counts as an import of the module
    that defines the name; imports under `TYPE_CHECKING` do not run, so they do not count).
(d) Each face is a lazy table: its `__all__`, its `_EXPORTS` (name -> module) and its
    `TYPE_CHECKING` imports list the same names, every name exists, none is also the
    name of a submodule, the face imports nothing else at run time, and every name is
    used somewhere outside the stage.

Run it alone with `python -m pytest tests/test_layers.py`; `.ci/run` runs it with the rest.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Top to bottom. Each layer is a list of sides; `|` separates sides, which must not import
# each other. "shared" stands for every top-level module not named elsewhere (files,
# yamldoc, daterange, net, faces, addresses, ...): they share journal's layer.
LAYERS: list[list[set[str]]] = [
    [{"__main__"}],
    [{"cli"}],
    [{"golive", "preview", "site", "start"}],
    [{"send", "archive", "collect"}],
    [{"issue"}, {"audience"}],
    [{"tokens"}],
    [{"config"}, {"deliver"}],
    [{"journal", "shared"}],
    [{"errors"}],
]
STAGES = ("config", "issue", "collect", "audience", "send", "deliver", "journal", "archive",
          "preview", "site", "start", "golive", "cli")



@dataclass(frozen=True)
class Import:
    where: str  # path:line, for the message
    importer: str  # dotted name of the importing module (or the file's path outside newsletter/)
    target: str  # the module imported (`from newsletter.issue import Item` -> newsletter.issue)
    names: tuple[str, ...]  # the names imported from it (empty for `import x`)
    typing_only: bool  # under `if TYPE_CHECKING:`

    def __str__(self) -> str:
        names = f" ({', '.join(self.names)})" if self.names else ""
        return f"{self.where}: {self.importer} imports {self.target}{names}"


def dotted(path: Path) -> str:
    rel = path.relative_to(REPO)
    if rel.parts[0] != "newsletter":
        return rel.as_posix()
    return ".".join(rel.with_suffix("").parts).removesuffix(".__init__")


def is_module(name: str) -> bool:
    base = REPO.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def imports_of(path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    where = path.relative_to(REPO).as_posix()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "newsletter":
                    yield Import(f"{where}:{node.lineno}", dotted(path), alias.name, (), id(node) in typing_only)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "newsletter":
            assert node.level == 0, f"{where}:{node.lineno}: use absolute imports (from newsletter.x import y)"
            plain = tuple(a.name for a in node.names if not is_module(f"{node.module}.{a.name}"))
            if plain:
                yield Import(f"{where}:{node.lineno}", dotted(path), node.module, plain, id(node) in typing_only)
            for alias in node.names:
                if is_module(f"{node.module}.{alias.name}"):  # `from newsletter import journal`
                    yield Import(f"{where}:{node.lineno}", dotted(path), f"{node.module}.{alias.name}", (),
                                 id(node) in typing_only)


def python_files(*folders: str) -> list[Path]:
    found = [p for folder in folders for p in sorted((REPO / folder).rglob("*.py"))]
    return found + (sorted((REPO / "docs").glob("*.py")) if "docs" in folders else [])


@cache
def all_imports() -> tuple[Import, ...]:
    return tuple(i for path in python_files("newsletter", "tests", "bench", "docs") for i in imports_of(path))


def unit(module: str) -> str:
    """The stage (newsletter/<stage>/...) or top-level module a module belongs to."""
    parts = module.split(".")
    if len(parts) == 1:
        return "newsletter"
    if parts[1] in STAGES or parts[1] in ("tokens", "errors", "__main__"):
        return parts[1]
    return "shared"


def place(name: str) -> tuple[int, int]:
    for depth, sides in enumerate(LAYERS):
        for side, members in enumerate(sides):
            if name in members:
                return depth, side
    raise AssertionError(f"{name} is on no layer: add it to LAYERS in tests/test_layers.py")


def layer_text(name: str) -> str:
    return " | ".join(", ".join(sorted(side)) for side in LAYERS[place(name)[0]])


def owner(path_or_module: str) -> str | None:
    """The stage whose internals a file may import: its own package, or tests/<stage>/."""
    parts = path_or_module.replace("/", ".").split(".")
    if len(parts) > 1 and parts[1] in STAGES and (parts[0] == "newsletter" or len(parts) > 2 and parts[0] == "tests"):
        return parts[1]
    return None


def test_layers_point_down() -> None:
    broken = []
    for imp in all_imports():
        if not imp.importer.startswith("newsletter") or unit(imp.target) == "newsletter":
            continue
        mine, theirs = unit(imp.importer), unit(imp.target)
        if mine == theirs:
            continue
        (my_depth, my_side), (their_depth, their_side) = place(mine), place(theirs)
        if their_depth < my_depth:
            broken.append(f"{imp}: {mine} must not import upward from {theirs} (layer '{layer_text(theirs)}' "
                          f"is above '{layer_text(mine)}'); move the code down or pass the value in")
        elif their_depth == my_depth and their_side != my_side:
            broken.append(f"{imp}: {mine} must not import sideways across '|' from {theirs} "
                          f"(layer '{layer_text(mine)}'); pass the value in from the layer above")
    assert not broken, "\n".join(broken)


def test_stages_meet_only_at_their_faces() -> None:
    broken = []
    for imp in all_imports():
        parts = imp.target.split(".")
        if len(parts) < 2 or parts[1] not in STAGES:
            continue
        stage, home = parts[1], owner(imp.importer)
        face = f"newsletter.{stage}"
        if len(parts) > 2 and home != stage:
            instrumenting = imp.importer.startswith(("bench/", "tests/support/")) and len(parts) == 3 and not imp.names
            if parts[-1] in imp.names:
                broken.append(f"{imp}: {parts[-1]} is both a module of the {stage} stage and a name in it, so its face "
                              f"cannot export it (once the module is loaded, the face's attribute is the module); "
                              f"rename the module")
            elif not instrumenting:
                broken.append(f"{imp}: reaches inside the {stage} stage from outside it; "
                              f"import from its face instead (from {face} import ...)")
        elif len(parts) == 2 and home == stage and imp.importer.startswith("newsletter"):
            broken.append(f"{imp}: a module of the {stage} stage imports its own face; "
                          f"import from the module that defines the name")
        elif len(parts) == 2:
            missing = [n for n in imp.names if n not in face_table(stage)]
            if missing:
                broken.append(f"{imp}: {', '.join(missing)} not in {face}.__all__; add it to the face "
                              f"(its _EXPORTS, __all__ and TYPE_CHECKING imports)")
    assert not broken, "\n".join(broken)


def test_stage_attributes_used_through_a_face_exist() -> None:
    """`from newsletter import journal` then `journal.connect(...)`: connect must be in its face."""
    broken = []
    for path in python_files("newsletter", "tests", "bench", "docs"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {a.asname or a.name: a.name for node in ast.walk(tree)
                   if isinstance(node, ast.ImportFrom) and node.module == "newsletter"
                   for a in node.names if a.name in STAGES}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                stage = aliases[node.value.id]
                if node.attr not in face_table(stage):
                    broken.append(f"{path.relative_to(REPO)}:{node.lineno}: uses {stage}.{node.attr}, "
                                  f"which is not in newsletter.{stage}.__all__")
    assert not broken, "\n".join(broken)


def runtime_edges() -> dict[str, set[str]]:
    """module -> modules it imports when it runs, with face names resolved to their definers."""
    edges: dict[str, set[str]] = {}
    for imp in all_imports():
        if imp.typing_only or not imp.importer.startswith("newsletter"):
            continue
        parts = imp.target.split(".")
        targets = {imp.target}
        if len(parts) == 2 and parts[1] in STAGES and imp.names:
            targets = {face_table(parts[1]).get(n, imp.target) for n in imp.names}
        edges.setdefault(imp.importer, set()).update(t for t in targets if t != imp.importer)
    return edges


def test_no_import_cycles() -> None:
    edges = runtime_edges()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target):], target] if target in path else [module, target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles (each module imports the next):\n" + "\n".join(" -> ".join(c) for c in cycles)


@cache
def face_table(stage: str) -> dict[str, str]:
    module = importlib.import_module(f"newsletter.{stage}")
    exports = getattr(module, "_EXPORTS", None)
    assert isinstance(exports, dict), f"newsletter/{stage}/__init__.py has no _EXPORTS table (name -> module)"
    return exports


@pytest.mark.parametrize("stage", STAGES)
def test_each_face_is_a_lazy_table_of_names_used_outside(stage: str) -> None:
    path = REPO / "newsletter" / stage / "__init__.py"
    face = importlib.import_module(f"newsletter.{stage}")
    exports = face_table(stage)
    assert face.__doc__, f"{path.relative_to(REPO)}: keep the docstring (what the stage takes in and gives out)"
    assert sorted(face.__all__) == sorted(exports), f"{path.relative_to(REPO)}: __all__ and _EXPORTS list different names"
    typed = {n: i.target for i in imports_of(path) if i.typing_only for n in i.names}
    assert typed == exports, f"{path.relative_to(REPO)}: the TYPE_CHECKING imports and _EXPORTS disagree"
    runtime = [str(i) for i in imports_of(path) if not i.typing_only and i.target != "newsletter"]
    assert not runtime, f"a face imports its names lazily, not at import time: {runtime}"
    for name, module in exports.items():
        assert module.startswith(f"newsletter.{stage}."), f"{path.relative_to(REPO)}: {name} comes from {module}, another stage"
        assert not is_module(f"newsletter.{stage}.{name}"), f"{path.relative_to(REPO)}: {name} is also a submodule's name"
        assert hasattr(importlib.import_module(module), name), f"{path.relative_to(REPO)}: {module} has no {name}"
    used = set()
    for imp in all_imports():
        if imp.target == f"newsletter.{stage}" and not imp.importer.startswith(f"newsletter.{stage}"):
            used.update(imp.names)
    for file in python_files("newsletter", "tests", "bench", "docs"):
        if dotted(file).startswith(f"newsletter.{stage}"):
            continue
        text = file.read_text(encoding="utf-8")
        if f"from newsletter import {stage}" in text:
            used.update(n.attr for n in ast.walk(ast.parse(text))
                        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == stage)
    unused = sorted(set(exports) - used)
    assert not unused, f"{path.relative_to(REPO)}: used nowhere outside the {stage} stage, so not part of its face: {unused}"


def test_importing_a_face_loads_nothing_behind_it() -> None:
    """`import newsletter.issue` loads no stage module; one light name loads only what it needs."""
    script = (
        "import sys\n"
        f"for stage in {STAGES!r}: __import__('newsletter.' + stage)\n"
        "inner = sorted(m for m in sys.modules if m.count('.') >= 2 and m.startswith('newsletter.'))\n"
        "print('inner', inner)\n"
        "from newsletter.issue import Item\n"
        "print('heavy', sorted(m for m in ('premailer', 'httpx', 'jinja2', 'lxml') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert "inner []" in out, out
    assert "heavy []" in out, out
