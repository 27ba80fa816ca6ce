"""Mutation testing of the course notebooks: do the graded tests catch the typical backprop bugs?

Every solution region (``### BEGIN SOLUTION`` … ``### END SOLUTION``) of every source notebook is mutated
automatically, one small change at a time, with the mistakes students actually make:

* ``sign``    a flipped sign: ``+`` ↔ ``-``, ``+=`` ↔ ``-=``, a unary minus dropped;
* ``negate``  a negated term: a product ``a * b`` becomes ``-(a * b)``;
* ``drop``    a dropped term of a sum: ``a + b`` → ``a`` or ``b``, ``a - b`` → ``a``, ``g += t`` removed,
              a sum over examples reduced to its first term (``D.sum(axis=0)`` → ``D[0]``);
* ``const``   a changed numeric constant: ``c`` → ``c + 1``;
* ``sigma``   σ for σ′: ``s * (1 - s)`` → ``s``;
* ``matmul``  swapped operands of ``@`` or ``np.outer``, a transpose ``.T`` dropped;
* ``accumulate`` ``=`` for ``+=``: each contribution overwrites the ones before it (a dropped path);
* ``reset``   a reset to 0 removed (``node.grad = 0.0``): a second backward pass adds onto the first.

A mutant is *killed* when a graded test cell of the exercise it touches loses its points (an exception,
or output on stderr, as nbgrader scores it). Each mutant runs the notebook's code cells in-process with
``exec`` in a fresh namespace (no kernel), skipping the ungraded ``demo`` cells. Every test cell runs, so
the script also counts the mutants that cost points in *another* exercise's tests (issue 12: a mistake
costs points once, in the exercise where it lives; must be 0), and checks that the correct solutions get
full marks and the released blanks (nbgrader's stubs) 0.

Run ``python -m benchmarks.mutation`` (optionally ``--notebook 02`` or ``--sample 20``) to print the
mutation score per notebook and list the survivors. A survivor must either be killed by a stronger test
or be listed in ``EQUIVALENT`` below with a one-line reason.
"""

from __future__ import annotations

import argparse
import ast
import copy
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from testkit.notebook_helpers import (  # noqa: E402
    exercises,
    is_answer,
    nbgrader_meta,
    notebook_paths,
    read,
    run_in_process,
)

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"

#: Mutants that no test can kill because they do not change what the function returns.
#: Key: (notebook stem, answer cell grade_id, "kind: `before` -> `after`"); value: why it is equivalent.
#: Empty at present: every mutant of the current solutions is killed (``--verbose`` shows by which test).
EQUIVALENT: dict[tuple[str, str, str], str] = {}


# ============================================================================================ mutants
@dataclass(frozen=True)
class Mutant:
    """One change to one answer cell."""

    notebook: str
    grade_id: str
    kind: str
    description: str  # "`before` -> `after`" in unparsed source
    source: str  # the whole mutated cell source

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.notebook, self.grade_id, f"{self.kind}: {self.description}")


def _solution_lines(source: str) -> set[int]:
    """1-based line numbers strictly between BEGIN and END SOLUTION markers."""
    lines, inside = set(), False
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            inside = True
        elif stripped.startswith(END):
            inside = False
        elif inside:
            lines.add(number)
    return lines


def _is_number(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    )


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


def _is_outer(node: ast.AST) -> bool:
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
    elif _is_number(node):
        yield "const", ast.Constant(node.value + 1)
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
    out: list[Mutant] = []
    seen: set[str] = set()
    for serial, (node, parent) in enumerate(_visit_order(tree)):
        first = getattr(node, "lineno", None)
        last = getattr(node, "end_lineno", first)
        if first is None or not all(n in lines for n in range(first, last + 1)):
            continue
        if isinstance(parent, ast.keyword) or _is_docstring(node, parent):
            continue
        for kind, replacement in _candidate_changes(node, parent):
            mutated = _Replace(serial, replacement).visit(copy.deepcopy(tree))
            ast.fix_missing_locations(mutated)
            new_source = ast.unparse(mutated)
            if new_source in seen or new_source == ast.unparse(tree):
                continue
            seen.add(new_source)
            before = ast.unparse(node)
            after = "(statement removed)" if replacement is None else ast.unparse(replacement)
            out.append(Mutant(notebook, grade_id, kind, f"`{before}` -> `{after}`", new_source))
    return out


def mutants_of_notebook(path: Path) -> list[Mutant]:
    """Every mutant of every graded answer cell (one under an exercise heading) of the notebook at ``path``."""
    nb = read(path)
    graded = {answer for ex in exercises(nb) for answer in ex.answer_ids}
    out = []
    for cell in nb.cells:
        if is_answer(cell) and nbgrader_meta(cell)["grade_id"] in graded:
            out += mutants_of_cell(path.stem, nbgrader_meta(cell)["grade_id"], cell.source)
    return out


# ============================================================================================ running
@dataclass
class NotebookScore:
    """The outcome of mutation testing one notebook."""

    notebook: str
    killed: list[Mutant] = field(default_factory=list)
    why: dict[Mutant, str] = field(default_factory=dict)  # killed mutant -> first failing test and its error
    equivalent: list[tuple[Mutant, str]] = field(default_factory=list)
    survived: list[Mutant] = field(default_factory=list)
    leaked: dict[Mutant, list[str]] = field(default_factory=dict)  # mutant -> other exercises' failing tests
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return len(self.killed) + len(self.equivalent) + len(self.survived)


def _exercise_tests(nb) -> dict[str, set[str]]:
    """answer grade_id -> the grade_ids of the test cells of its exercise."""
    out: dict[str, set[str]] = {}
    for ex in exercises(nb):
        for answer in ex.answer_ids:
            out[answer] = set(ex.tests)
    return out


def baseline_failures(path: Path) -> list[str]:
    """Test cells that fail on the unmutated solution (must be empty for the mutation score to mean much)."""
    nb = read(path)
    results = run_in_process(nb.cells, cwd=path.parent)
    return [f"{r.grade_id}: {r.error}" for r in results.values() if not r.passed]


def blank_passes(path: Path) -> list[str]:
    """Test cells that pass on the released blank notebook (nbgrader's stubs in every answer): must be empty."""
    from nbgrader.preprocessors import ClearSolutions

    released, _ = ClearSolutions().preprocess(read(path), {})
    results = run_in_process(released.cells, cwd=path.parent)
    return [r.grade_id for r in results.values() if r.passed]


def score_notebook(path: Path, sample: int | None = None, seed: int = 0, isolation: bool = True) -> NotebookScore:
    """Run every mutant (or a random ``sample`` of them) of one notebook and sort it into the three bins.

    With ``isolation``, every test cell runs (not only up to the first failure), and a mutant that fails a
    test of another exercise is recorded in ``leaked``.
    """
    nb = read(path)
    tests_of = _exercise_tests(nb)
    mutants = mutants_of_notebook(path)
    if sample is not None and sample < len(mutants):
        mutants = sorted(random.Random(seed).sample(mutants, sample), key=mutants.index)
    score = NotebookScore(path.stem)
    start = time.perf_counter()
    for mutant in mutants:
        watched = tests_of.get(mutant.grade_id, set())
        cells = []
        for cell in nb.cells:
            if is_answer(cell) and nbgrader_meta(cell)["grade_id"] == mutant.grade_id:
                cell = copy.copy(cell)
                cell.source = mutant.source
            cells.append(cell)
        results = run_in_process(cells, cwd=path.parent, stop_after=None if isolation else watched)
        failing = [results[g] for g in watched if g in results and not results[g].passed]
        elsewhere = sorted(g for g, r in results.items() if g not in watched and not r.passed)
        if elsewhere:
            score.leaked[mutant] = elsewhere
        if failing:
            score.killed.append(mutant)
            first_line = failing[0].error.splitlines()[0][:150] if failing[0].error else ""
            score.why[mutant] = f"{failing[0].grade_id}: {first_line}"
        elif mutant.key in EQUIVALENT:
            score.equivalent.append((mutant, EQUIVALENT[mutant.key]))
        else:
            score.survived.append(mutant)
    score.seconds = time.perf_counter() - start
    return score


def report(score: NotebookScore, verbose: bool = False) -> str:
    """The score line and the survivors / equivalent mutants of one notebook."""
    non_eq = score.total - len(score.equivalent)
    lines = [
        f"{score.notebook}: killed {len(score.killed)}/{score.total} "
        f"({len(score.equivalent)} equivalent; {len(score.killed)}/{non_eq} of the others); "
        f"{len(score.leaked)} cost points in another exercise; {score.seconds:.1f} s"
    ]
    for m in score.survived:
        lines.append(f"  SURVIVED  {m.grade_id}  {m.kind}: {m.description}")
    for m, tests in score.leaked.items():
        lines.append(f"  LEAKED    {m.grade_id}  {m.kind}: {m.description}  also fails {', '.join(tests)}")
    if verbose:
        for m in score.killed:
            lines.append(f"  killed    {m.grade_id}  {m.kind}: {m.description}\n            by {score.why[m]}")
    for m, why in score.equivalent:
        lines.append(f"  equivalent {m.grade_id}  {m.kind}: {m.description}  ({why})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebook", default="", help="only notebooks whose folder starts with this (e.g. 02)")
    parser.add_argument("--sample", type=int, default=None, help="run a random sample of this many mutants each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="also list each killed mutant and what killed it")
    parser.add_argument("--fast", action="store_true",
                        help="stop each mutant at its first failing test (no check that it fails nowhere else)")
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    status = 0
    for path in notebook_paths():
        if not path.parent.name.startswith(args.notebook):
            continue
        if not mutants_of_notebook(path):
            continue
        broken = baseline_failures(path)
        if broken:
            print(f"{path.stem}: the unmutated solution fails: {broken}")
            status = 1
            continue
        passing_blanks = blank_passes(path)
        if passing_blanks:
            print(f"{path.stem}: the released blank notebook passes {passing_blanks}")
            status = 1
        score = score_notebook(path, args.sample, args.seed, isolation=not args.fast)
        print(report(score, args.verbose), flush=True)
        if score.survived or score.leaked:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
