"""Single mistakes in an answer cell's solution: the mutation benchmark's mutants, for any notebook.

Every solution region (``### BEGIN SOLUTION`` … ``### END SOLUTION``) is mutated one small change at a
time, with the mistakes students actually make:

* ``sign``    a flipped sign: ``+`` ↔ ``-``, ``+=`` ↔ ``-=``, a unary minus dropped;
* ``negate``  a negated term: a product ``a * b`` becomes ``-(a * b)``;
* ``drop``    a dropped term of a sum: ``a + b`` → ``a`` or ``b``, ``a - b`` → ``a``, ``g += t`` removed,
              a sum over examples reduced to its first term (``D.sum(axis=0)`` → ``D[0]``);
* ``const``   a changed numeric constant: ``c`` → ``c + 1``;
* ``sigma``   σ for σ′: ``s * (1 - s)`` → ``s``;
* ``matmul``  swapped operands of ``@`` or ``np.outer``, a transpose ``.T`` dropped.

A mutant is the whole cell's source with one change (``ast.unparse``: comments and the solution markers
are gone, which changes nothing the grader sees).
"""

from __future__ import annotations

import ast
import copy
import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from autograder.authoring.exercises import exercises
from autograder.notebook.cells import BEGIN_SOLUTION, END_SOLUTION, is_answer
from autograder.notebook.cells import grade_id as cell_grade_id

__all__ = ["KINDS", "Mutant", "mutants_of_cell", "mutants_of_notebook"]

BEGIN, END = BEGIN_SOLUTION, END_SOLUTION
KINDS = ("sign", "negate", "drop", "const", "sigma", "matmul")


@dataclass(frozen=True)
class Mutant:
    """One change to one answer cell."""

    notebook: str
    grade_id: str
    kind: str
    description: str  # "`before` -> `after`" in unparsed source
    source: str  # the whole mutated cell source
    original: str = field(default="", compare=False)  # the unmutated cell, unparsed the same way

    @property
    def diff(self) -> str:
        """The change as a unified diff of the cell (only the changed lines and one line around them)."""
        lines = difflib.unified_diff(self.original.splitlines(), self.source.splitlines(),
                                     f"{self.grade_id} (correct)", f"{self.grade_id} (mutant)", n=1, lineterm="")
        return "\n".join(lines)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.notebook, self.grade_id, f"{self.kind}: {self.description}")


def _solution_lines(source: str) -> set[int]:
    """1-based line numbers strictly between the solution markers (a line *containing* one, as nbgrader reads)."""
    lines, inside = set(), False
    for number, line in enumerate(source.splitlines(), start=1):
        if BEGIN in line:
            inside = True
        elif END in line:
            inside = False
        elif inside:
            lines.add(number)
    return lines


def _number(node: ast.AST) -> int | float | None:
    """The value of ``node`` if it is a numeric literal (never a bool), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    return None


def _is_number(node: ast.AST) -> TypeGuard[ast.Constant]:
    return _number(node) is not None


def _same(a: ast.AST, b: ast.AST) -> bool:
    return ast.dump(a) == ast.dump(b)


def _sigma_prime_operand(node: ast.AST) -> ast.AST | None:
    """``s`` if ``node`` is ``s * (1 - s)`` or ``(1 - s) * s``, else None."""
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)):
        return None
    for s, other in ((node.left, node.right), (node.right, node.left)):
        if (
            isinstance(other, ast.BinOp)
            and isinstance(other.op, ast.Sub)
            and _is_number(other.left)
            and other.left.value == 1
            and _same(other.right, s)
        ):
            return s
    return None


def _is_outer(node: ast.AST) -> TypeGuard[ast.Call]:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "outer"
        and len(node.args) == 2
    )


def _candidate_changes(node: ast.AST, parent: ast.AST | None) -> Iterator[tuple[str, ast.AST | None]]:
    """(kind, replacement) for each mutation of ``node``; replacement None means "delete the statement"."""
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Add):
            yield "sign", ast.BinOp(node.left, ast.Sub(), node.right)
            yield "drop", node.left
            yield "drop", node.right
        elif isinstance(node.op, ast.Sub):
            yield "sign", ast.BinOp(node.left, ast.Add(), node.right)
            yield "drop", node.left
        elif isinstance(node.op, ast.MatMult):
            yield "matmul", ast.BinOp(node.right, ast.MatMult(), node.left)
        if isinstance(node.op, ast.Mult | ast.Div | ast.MatMult) and not (
            isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Mult | ast.Div | ast.MatMult)
        ):
            yield "negate", ast.UnaryOp(ast.USub(), node)
        s = _sigma_prime_operand(node)
        if s is not None:
            yield "sigma", s
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield "sign", node.operand
    elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add | ast.Sub):
        flipped = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
        yield "sign", ast.AugAssign(node.target, flipped, node.value)
        yield "drop", None
        if isinstance(node.op, ast.Add):
            yield "accumulate", ast.copy_location(ast.Assign([node.target], node.value, lineno=node.lineno), node)
    elif isinstance(node, ast.Assign) and _is_number(node.value) and node.value.value == 0:
        yield "reset", None
    elif (number := _number(node)) is not None:
        yield "const", ast.Constant(number + 1)
    elif isinstance(node, ast.Attribute) and node.attr == "T":
        yield "matmul", node.value
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "sum":
        yield "drop", ast.Subscript(node.func.value, ast.Constant(0), ast.Load())
    elif _is_outer(node):
        swapped = copy.copy(node)
        swapped.args = [node.args[1], node.args[0]]
        yield "matmul", swapped


class _Replace(ast.NodeTransformer):
    """Replace the node with serial number ``target`` (in ``ast.walk``-independent visiting order)."""

    def __init__(self, target: int, replacement: ast.AST | None) -> None:
        self.target, self.replacement, self.serial = target, replacement, -1

    def visit(self, node: ast.AST):
        self.serial += 1
        if self.serial == self.target:
            if self.replacement is None:
                return ast.Pass()
            return copy.deepcopy(self.replacement)
        return self.generic_visit(node)


def _visit_order(tree: ast.AST) -> list[tuple[ast.AST, ast.AST | None]]:
    """Every node with its parent, in the order :class:`_Replace` visits them (pre-order)."""
    out: list[tuple[ast.AST, ast.AST | None]] = []

    def rec(node: ast.AST, parent: ast.AST | None) -> None:
        out.append((node, parent))
        for child in ast.iter_child_nodes(node):
            rec(child, node)

    rec(tree, None)
    return out


def _is_docstring(node: ast.AST, parent: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def mutants_of_cell(notebook: str, grade_id: str, source: str) -> list[Mutant]:
    """Every mutant of the solution region of one answer cell."""
    lines = _solution_lines(source)
    if not lines:
        return []
    tree = ast.parse(source)
    original = ast.unparse(tree)
    out: list[Mutant] = []
    seen: set[str] = set()
    for serial, (node, parent) in enumerate(_visit_order(tree)):
        first: int | None = getattr(node, "lineno", None)
        if first is None:
            continue
        last: int = getattr(node, "end_lineno", None) or first
        if not all(n in lines for n in range(first, last + 1)):
            continue
        if isinstance(parent, ast.keyword) or _is_docstring(node, parent):
            continue
        for kind, replacement in _candidate_changes(node, parent):
            mutated = _Replace(serial, replacement).visit(copy.deepcopy(tree))
            ast.fix_missing_locations(mutated)
            new_source = ast.unparse(mutated)
            if new_source in seen or new_source == original:
                continue
            seen.add(new_source)
            before = ast.unparse(node)
            after = "(statement removed)" if replacement is None else ast.unparse(replacement)
            out.append(Mutant(notebook, grade_id, kind, f"`{before}` -> `{after}`", new_source, original))
    return out


def mutants_of_notebook(nb: Any, name: str) -> list[Mutant]:
    """Every mutant of every graded answer cell (one under an exercise heading) of notebook ``nb``.

    ``name`` is the notebook's name in :attr:`Mutant.notebook` (the benchmark uses the file's stem).
    """
    graded = {answer for ex in exercises(nb) for answer in ex.answer_ids}
    out = []
    for cell in nb.cells:
        if is_answer(cell) and cell_grade_id(cell) in graded:
            out += mutants_of_cell(name, cell_grade_id(cell), cell.source)
    return out
