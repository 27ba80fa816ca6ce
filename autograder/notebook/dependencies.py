"""Which cells of a notebook a grading run needs: a conservative, static dependency analysis.

A cell is *needed* when it defines or may change a name that a later needed cell reads; cells that only
draw or display something no test reads are skipped. The analysis reads code, never runs it, and errs on
the side of running a cell: assignments, ``del``, imports, ``def``/``class``, item or attribute
assignment and method calls (``rng.normal()``, ``lst.append()``) all count as changing the name at their
root, and a cell that cannot be parsed is always needed. Used by the independent re-check
(:mod:`autograder.isolation.verify`) and by the grader's execution of a submission
(:class:`autograder.isolation.sandbox.CappedExecute`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

__all__ = ["cell_names", "imported_modules", "needed_cells", "strip_magics"]


def strip_magics(code: str) -> str:
    """``code`` with IPython magics and shell escapes (``%...``, ``!...``) blanked, so ``ast`` can parse it."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in code.split("\n"))


def cell_names(code: str, known_modules: Iterable[str] = ()) -> tuple[set[str], set[str]] | None:
    """(names a cell defines or mutates, names it reads); None if it cannot be parsed.

    A method call changes the object it is called on (``rng.normal()``), except a plain function of a
    module (``np.exp(x)``: ``np`` or a name in ``known_modules``, the modules earlier cells imported),
    unless its name says it changes settings (:func:`_changes_module`).
    """
    try:
        tree = ast.parse(strip_magics(code))
    except (SyntaxError, RecursionError, MemoryError):  # RecursionError/MemoryError: a parser bomb
        return None
    defined: set[str] = set()
    used: set[str] = set()
    modules = {(a.asname or a.name).split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
               for a in node.names} | set(known_modules)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (defined if isinstance(node.ctx, ast.Store | ast.Del) else used).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.alias):
            defined.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.Attribute | ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
            root: ast.expr = node
            while isinstance(root, ast.Attribute | ast.Subscript):
                root = root.value
            if isinstance(root, ast.Name):
                defined.add(root.id)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            root = node.func.value  # obj.method(...) may change obj (rng.normal, list.append)
            while isinstance(root, ast.Attribute | ast.Subscript):
                root = root.value
            if isinstance(root, ast.Name) and (root.id not in modules or _changes_module(node.func.attr)):
                defined.add(root.id)
    return defined, used


_STATEFUL_PREFIXES = ("set", "seed", "reset", "filter", "simplefilter", "use", "register", "update", "enable",
                      "disable", "config", "load", "install", "patch", "reload")


def _changes_module(function: str) -> bool:
    """Whether calling ``module.<...>.function(...)`` may change the module's state (seeding, settings).

    ``np.linspace(...)`` or ``math.exp(...)`` compute; ``np.random.seed(0)``, ``np.set_printoptions(...)`` or
    ``warnings.filterwarnings(...)`` change what later cells see, and keep the cell.
    """
    name = function.lower().lstrip("_")
    return name.startswith(_STATEFUL_PREFIXES) or function.startswith("__")


def imported_modules(cells: Iterable[str]) -> set[str]:
    """Names bound by ``import x`` / ``import x as y`` in any of ``cells`` (module objects, not values).

    A name that is also assigned anywhere (``np = ...``) is not treated as a module.
    """
    modules, assigned = set(), set()
    for code in cells:
        try:
            tree = ast.parse(strip_magics(code))
        except (SyntaxError, RecursionError, MemoryError):  # RecursionError/MemoryError: a parser bomb
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                assigned.add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                assigned.add(node.name)
    return modules - assigned


def needed_cells(cells: list[tuple[bool, str]]) -> list[bool]:
    """Which cells a re-run needs: ``cells`` are (always keep, code) in order.

    A prunable cell is kept only if it defines (or changes) a name that a later kept cell reads; cells that
    only draw or display are skipped. Cells that cannot be parsed are kept.
    """
    keep = [False] * len(cells)
    needed: set[str] = set()
    modules = imported_modules(code for _, code in cells)
    for i in range(len(cells) - 1, -1, -1):
        always, code = cells[i]
        names = cell_names(code, modules)
        if always or names is None or names[0] & needed:
            keep[i] = True
            if names is not None:
                needed |= names[1]
    return keep
