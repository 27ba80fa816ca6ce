"""A static scan of a submission's own code for things an honest answer never needs.

It reads (never runs) every code cell the student could edit — answer cells and cells they added — and
flags code that patches modules or builtins, touches files or the environment, starts processes, opens
connections, digs into interpreter internals, calls course_lib's automatic or numerical gradients, or
holds a tiny float literal (``1e-6``: the usual step of a hand-written finite difference).

Out of its reach: a student may write their own finite differences of the loss in ``backward`` (numerical
checking cannot tell a correct number from a correctly approximated one). The tiny-literal flag catches
the plain form; ``h = 10 ** -6``, a step computed at run time or an approximation with a larger step is
not flagged. Such an answer passes the tests; only reading it shows it.
A flag is a reason for the instructor to look, not a verdict: scores are decided by the tests and the
independent re-check (:mod:`autograder.isolation.verify`).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import nbformat

from autograder.notebook.cells import grade_id, is_test, meta

__all__ = ["UNPARSABLE", "Flag", "scan_notebook", "scan_source"]

#: How a flag says a cell could not be read at all (a parser bomb): such a submission needs the instructor.
UNPARSABLE = "could not be parsed"

_RISKY_MODULES = {
    "os": "the operating system (files, processes, environment)",
    "sys": "the interpreter's internals",
    "subprocess": "starting processes",
    "socket": "network connections",
    "shutil": "copying or deleting files",
    "pathlib": "the file system",
    "glob": "the file system",
    "ctypes": "raw memory",
    "importlib": "re-importing modules",
    "builtins": "Python's builtins",
    "gc": "the garbage collector (reaching other objects)",
    "inspect": "interpreter frames",
    "signal": "signal handlers",
    "multiprocessing": "starting processes",
    "threading": "threads",
    "urllib": "network access",
    "http": "network access",
    "requests": "network access",
    "sqlite3": "databases (the gradebook)",
    "pickle": "loading code from data",
}
_RISKY_CALLS = {
    "open": "opens a file",
    "exec": "runs code from a string",
    "eval": "runs code from a string",
    "compile": "compiles code from a string",
    "__import__": "imports a module by name",
    "globals": "reads or rewrites the notebook's globals",
    "setattr": "changes an attribute by name",
    "delattr": "deletes an attribute by name",
    "breakpoint": "starts a debugger",
    "input": "waits for keyboard input",
}
_AUTODIFF = {
    "backward": "calls course_lib's automatic backward pass",
    "numerical_gradient": "calls course_lib's numerical gradient",
    "check_gradients": "calls the grader's checker",
    "check_derivative": "calls the grader's checker",
    "path_sum": "calls course_lib's path sum",
    "graph_gradients": "calls course_lib's automatic gradients",
    "hand_written_only": "touches the grader's guard",
}
_DUNDERS = {"__code__", "__globals__", "__builtins__", "__dict__", "__class__", "__subclasses__", "__defaults__",
            "__closure__", "__func__", "__self__", "__getattribute__", "__setattr__", "__eq__", "__bool__"}


@dataclass(frozen=True)
class Flag:
    """One finding: where, what, and why it matters."""

    cell: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.cell} line {self.line}: {self.what}"


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def scan_source(code: str, cell: str, imported_modules: set[str] | None = None) -> list[Flag]:
    """Flags in one cell's code. ``imported_modules`` collects names bound to imported modules."""
    modules = imported_modules if imported_modules is not None else set()
    try:
        tree = ast.parse("\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in code.split("\n")))
    except SyntaxError:
        return []
    except (RecursionError, MemoryError) as exc:  # a parser bomb: nested deeper than Python's parser goes
        return [Flag(cell, 0, f"{UNPARSABLE} ({type(exc).__name__}: nested too deeply for Python's parser); "
                              "the grader could not scan it: review this answer by hand")]
    flags: list[Flag] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            mod_names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for alias in node.names:
                modules.add((alias.asname or alias.name).split(".")[0])
            for name in mod_names:
                top = name.split(".")[0]
                if top in _RISKY_MODULES:
                    flags.append(Flag(cell, line, f"imports {name} ({_RISKY_MODULES[top]})"))
                if name.startswith("course_lib") and ("gradcheck" in name or "graph" in name or "guard" in name):
                    flags.append(Flag(cell, line, f"imports {name} in an answer (automatic/numerical gradients)"))
        elif isinstance(node, ast.Call):
            fn = node.func
            called = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else None
            if isinstance(fn, ast.Name) and called in _RISKY_CALLS:
                flags.append(Flag(cell, line, f"calls {called}() ({_RISKY_CALLS[called]})"))
            # node.backward() is the graph's; a plain backward(...) is usually the student's own function
            if called in _AUTODIFF and (called != "backward" or isinstance(fn, ast.Attribute)):
                flags.append(Flag(cell, line, f"{_AUTODIFF[called]} ({called})"))
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            for t in targets:
                if isinstance(t, ast.Attribute) and _root_name(t) in modules:
                    flags.append(Flag(cell, line, f"changes {ast.unparse(t)} (patches an imported module)"))
                elif isinstance(t, ast.Attribute) and t.attr in _DUNDERS:
                    flags.append(Flag(cell, line, f"changes {ast.unparse(t)} (rewrites Python internals)"))
        elif isinstance(node, ast.Attribute) and node.attr in _DUNDERS and isinstance(node.ctx, ast.Load):
            if node.attr not in ("__class__", "__dict__"):
                flags.append(Flag(cell, line, f"reads {ast.unparse(node)} (interpreter internals)"))
        elif isinstance(node, ast.Constant) and type(node.value) is float and 0 < abs(node.value) <= 1e-3:
            flags.append(Flag(cell, line, f"uses a tiny number {node.value:g} (a finite-difference step? the "
                                          "gradient must be derived by hand; check the answer)"))
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.Assign) and any(
                    n in _DUNDERS for n in ([item.name] if isinstance(item, ast.FunctionDef)
                                            else [t.id for t in item.targets if isinstance(t, ast.Name)])
                ):
                    flags.append(Flag(cell, line, f"defines a class {node.name} that overrides comparison or "
                                                  "truth (an object that equals anything?)"))
                    break
    return flags


def scan_notebook(nb: nbformat.NotebookNode) -> list[Flag]:
    """Flags in every cell a student can edit (answer cells and cells without nbgrader metadata)."""
    flags: list[Flag] = []
    modules: set[str] = set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if meta(cell).get("locked") or is_test(cell):
            # trusted cells (restored from the source by nbgrader) still teach us which names are modules
            scan_source(cell.source, "", modules)
            continue
        gid = grade_id(cell)  # the student's file: an id is named only when it is a plain identifier
        name = gid if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", gid) else f"cell {index + 1}"
        flags += scan_source(cell.source, name, modules)
    seen, unique = set(), []
    for f in flags:
        if (f.cell, f.what) not in seen:
            seen.add((f.cell, f.what))
            unique.append(f)
    return unique
