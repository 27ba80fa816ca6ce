"""The project's layout holds: no import cycle, and the grader's layers import only downwards.

Imports are read from the source (``ast``), so the test sees imports inside functions too.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("autograder", "course_lib")

# The grader's layers, top to bottom (docs/architecture.md). A module may import its own layer's modules
# and any layer below it, never one above. Student and reader tools sit beside the commands.
LAYERS: list[set[str]] = [
    {"autograder.cli"},
    {"autograder.commands", "autograder.student", "autograder.reader", "autograder.authoring"},
    {"autograder.grading"},
    {"autograder.isolation"},
    {"autograder.coursedir", "autograder.notebook"},
    {"autograder.settings", "autograder.errors", "autograder.untrusted", "autograder.processes", "autograder.fsutil",
     "autograder.lazy_imports"},
    {"course_lib"},
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache
def _project_modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules ``path`` imports (anywhere in the file), resolved to the longest known name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name and not name.startswith(t + "."):
                found.add(t)
    return found


@functools.cache
def _graph() -> dict[str, set[str]]:
    mods = _project_modules()
    return {name: _imports(path, name, set(mods)) for name, path in mods.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def _layer(name: str) -> int:
    for i, layer in enumerate(LAYERS):
        if any(name == top or name.startswith(top + ".") for top in layer):
            return i
    raise AssertionError(f"{name} belongs to no layer: add it to LAYERS and docs/architecture.md")


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_inside_the_project():
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_every_module_belongs_to_a_layer():
    for name in _project_modules():
        if name in PACKAGES:
            continue
        _layer(name)


@pytest.mark.parametrize("name", sorted(n for n in _project_modules() if n.startswith("autograder.")))
def test_the_grader_imports_only_downwards(name):
    if name == "autograder":
        return
    mine = _layer(name)
    upward = [m for m in sorted(_graph()[name]) if m != "autograder" and _layer(m) < mine]
    assert not upward, f"{name} (layer {mine}) imports a higher layer: {upward}"


# The one command that imports others: the demo runs release, collect and grade in turn on its sample class.
# Nothing may be added to it: what two commands share belongs in a lower layer (the record is grading/record.py).
COMMAND_IMPORTS_ALLOWED = {
    ("autograder.commands.demo", "autograder.commands.collect"),
    ("autograder.commands.demo", "autograder.commands.grade"),
    ("autograder.commands.demo", "autograder.commands.release"),
    ("autograder.commands.demo", "autograder.commands.sample_class"),
}


def _command(name: str) -> str | None:
    """The command module ``name`` belongs to (``autograder.commands.collect`` for a module of that package)."""
    parts = name.split(".")
    return ".".join(parts[:3]) if parts[:2] == ["autograder", "commands"] and len(parts) > 2 else None


def test_commands_never_import_each_other():
    found = {(_command(n), _command(m)) for n, deps in _graph().items() for m in deps
             if _command(n) and _command(m) and _command(n) != _command(m)}
    new = sorted(found - COMMAND_IMPORTS_ALLOWED)
    assert not new, f"a command imports another command (move what they share to a lower layer): {new}"
    gone = sorted(COMMAND_IMPORTS_ALLOWED - found)
    assert not gone, f"no longer imported, remove from COMMAND_IMPORTS_ALLOWED: {gone}"


def test_course_lib_never_imports_the_grader():
    bad = {n: sorted(m for m in deps if m.startswith("autograder")) for n, deps in _graph().items()
           if n.startswith("course_lib")}
    assert not any(bad.values()), bad


# Small modules, short functions (issue 24): a newcomer reads one screen at a time.
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60  # the body, not counting the signature and the docstring


def _sources() -> list[Path]:
    return sorted(p for pkg in ("autograder", "course_lib") for p in (ROOT / pkg).rglob("*.py"))


def test_every_module_is_under_500_lines():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in _sources()}
    long = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not long, f"split these along a seam (one responsibility per module): {long}"


def _body_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = fn.body
    first = body[0]
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
            and len(body) > 1):
        first = body[1]
    return (fn.end_lineno or fn.lineno) - first.lineno + 1


def test_every_function_body_is_under_60_lines():
    long = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _body_lines(node) > MAX_FUNCTION_LINES:
                long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = _body_lines(node)
    assert not long, f"split these into named steps: {long}"


# course_lib grouped by who calls it (issue 24): a module path says which package it means, and modules meet
# only through public names.
def _top_level_names(package: str) -> set[str]:
    """The modules and packages directly inside ``package`` (``autograder``: ``cli``, ``isolation``, ...)."""
    root = ROOT / package
    modules = {p.stem for p in root.glob("*.py") if p.stem != "__init__"}
    return modules | {p.name for p in root.iterdir() if (p / "__init__.py").is_file()}


def test_no_course_lib_module_shares_a_name_with_one_of_the_graders():
    assert {"isolation", "notebook", "grading", "cli"} <= _top_level_names("autograder")  # the check sees them
    assert {"checks", "gradcheck", "graph", "answers"} <= _top_level_names("course_lib")
    shared = sorted(_top_level_names("course_lib") & _top_level_names("autograder"))
    assert not shared, (f"course_lib.{shared[0]} and autograder.{shared[0]} would mean different things: rename "
                        "the course_lib one after who calls it (test cells' helpers belong in course_lib/checks/)")


def _private_imports(path: Path, name: str) -> list[str]:
    """``from x import _y`` in ``path`` where ``x`` is another module: ``"x._y (line n)"`` for each."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
        found += [f"{base}.{a.name} (line {node.lineno})" for a in node.names
                  if a.name.startswith("_") and not a.name.startswith("__") and base != name]
    return found


def test_the_private_import_finder_finds_one(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from course_lib.graph import Node, _hidden\nfrom . import _sibling\nfrom x import __version__\n")
    assert _private_imports(module, "course_lib.m") == ["course_lib.graph._hidden (line 1)",
                                                         "course_lib._sibling (line 2)"]


def test_no_module_imports_another_modules_private_name():
    """A name with a leading underscore is its module's own; what another module needs gets a public name.

    Covers the shipped packages and testkit; a test may still reach the private helper of the module it tests.
    """
    modules = dict(_project_modules())
    modules.update({_module_name(p): p for p in sorted((ROOT / "testkit").rglob("*.py"))})
    found = {name: hits for name, path in modules.items() if (hits := _private_imports(path, name))}
    assert not found, f"give these a public, documented name in their own module: {found}"


def test_the_student_hosts_early_imports_name_modules_that_exist():
    """The pre-started host imports WARM_MODULES and skips any that fails: a renamed module would silently
    lose the saving, so each name must import."""
    import importlib

    from autograder.isolation.student_host import WARM_MODULES

    for name in WARM_MODULES:
        importlib.import_module(name)
