"""Which cells of a notebook a grading run needs: a conservative, static dependency analysis.

A cell is *needed* when it defines or may change a name that a later needed cell reads; cells that only
draw or display something no test reads are skipped. The analysis reads code, never runs it, and errs on
the side of running a cell: assignments, ``del``, imports, ``def``/``class``, item or attribute
assignment and method calls (``rng.normal()``, ``lst.append()``) all count as changing the name at their
root, and a cell that cannot be parsed is always needed. Used by the independent re-check
(:mod:`autograder.isolation.verify`) and by the grader's execution of a submission
(:class:`autograder.isolation.capped_execute.CappedExecute`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

__all__ = ["cell_names", "imported_modules", "needed_cells", "needed_parts", "strip_magics"]


def strip_magics(code: str) -> str:
    """``code`` with IPython magics and shell escapes (``%...``, ``!...``) blanked, so ``ast`` can parse it."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in code.split("\n"))


def _parsed(code: str) -> ast.Module | None:
    """``code``'s syntax tree, None if it cannot be parsed (a parser bomb included)."""
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # RecursionError/MemoryError: a parser bomb
        return None


def cell_names(code: str, known_modules: Iterable[str] = ()) -> tuple[set[str], set[str]] | None:
    """(names a cell defines or mutates, names it reads); None if it cannot be parsed.

    A method call changes the object it is called on (``rng.normal()``), except a plain function of a
    module (``np.exp(x)``: ``np`` or a name in ``known_modules``, the modules earlier cells imported),
    unless its name says it changes settings (:func:`_changes_module`).
    """
    tree = _parsed(strip_magics(code))
    if tree is None:
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
        tree = _parsed(strip_magics(code))
        if tree is None:
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


def _statements(code: str) -> list[str] | None:
    """``code``'s top-level statements as source text, in order; None if it cannot be split safely."""
    if any(line.lstrip().startswith(("%", "!")) for line in code.split("\n")):
        return None
    tree = _parsed(code)
    if tree is None:
        return None
    lines = _LINE.findall(code)  # split once: ast.get_source_segment splits the whole cell again per statement
    parts = [_segment(lines, node) for node in tree.body]
    return None if any(p is None for p in parts) else [p for p in parts if p is not None]


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")  # lines as the parser counts them (\f is no break)


def _segment(lines: list[str], node: ast.stmt) -> str | None:
    """``ast.get_source_segment(code, node)`` given ``code``'s lines (offsets are UTF-8 bytes, as there)."""
    if node.end_lineno is None or node.end_col_offset is None:
        return None
    first, last = node.lineno - 1, node.end_lineno - 1
    if first == last:
        return lines[first].encode()[node.col_offset:node.end_col_offset].decode()
    head = lines[first].encode()[node.col_offset:].decode()
    tail = lines[last].encode()[:node.end_col_offset].decode()
    return head + "".join(lines[first + 1:last]) + tail


_OUTPUT_ONLY = {"display", "print"}


def _has_effects(statement: str) -> bool:
    """Whether a statement must run although it defines no name a later cell reads: a bare call such as
    ``start("general")`` may change settings; only ``display(...)``/``print(...)`` are known to just show."""
    names = cell_names(statement)
    if names is None:
        return True
    if names[0]:
        return False  # it defines something: needed exactly when that is read later
    tree = _parsed(statement)
    node = tree.body[0] if tree is not None else None
    return not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id in _OUTPUT_ONLY)


def needed_parts(cells: list[tuple[bool, str]]) -> list[str | None]:
    """Like :func:`needed_cells`, statement by statement inside the prunable cells.

    ``cells`` are (always keep, code) in order. Returns per cell the code to run: the whole cell when it
    is always kept (or cannot be split), only its needed top-level statements otherwise (``fig = draw(...)``
    and ``display(fig)`` of a figure no later cell reads are dropped while ``chain = ...`` above them is
    kept; a bare call that may change settings, such as ``start(...)``, always runs), None when none is.
    """
    units: list[tuple[int, bool, str]] = []
    for i, (always, code) in enumerate(cells):
        parts = None if always else _statements(code)
        units += [(i, always, code)] if parts is None else [(i, _has_effects(part), part) for part in parts]
    keep = needed_cells([(always, code) for _, always, code in units])
    out: list[list[str]] = [[] for _ in cells]
    for (i, _, code), k in zip(units, keep, strict=True):
        if k:
            out[i].append(code)
    return ["\n".join(parts) if parts else None for parts in out]
