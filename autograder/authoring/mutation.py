"""Score a source notebook's tests by its mutants, in-process: the mutation benchmark's engine.

A mutant (:mod:`autograder.authoring.mutants`) is *killed* when a graded test cell of the exercise it
touches loses its points (an exception, or output on stderr, as nbgrader scores it). Each mutant runs the
notebook's code cells in-process (:func:`autograder.authoring.inprocess.run_in_process`, no kernel),
skipping the ungraded ``demo`` cells. Every test cell runs, so a mutant that costs points in *another*
exercise's tests is recorded too (a mistake costs points once, in the exercise where it lives).

``python -m benchmarks.mutation`` prints :func:`report` for every course notebook; ``backprop-course
lint-source`` grades the same mutants with the real grader (:mod:`autograder.authoring.graded`).
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from autograder.authoring.exercises import exercises
from autograder.authoring.inprocess import run_in_process
from autograder.authoring.mutants import Mutant, mutants_of_notebook
from autograder.notebook.cells import grade_id, is_answer

__all__ = ["NotebookScore", "baseline_failures", "blank_passes", "exercise_tests", "read", "report",
           "score_line", "score_notebook"]


def read(path: Path) -> Any:
    """Read a notebook (nbformat 4)."""
    return nbformat.read(str(path), as_version=4)


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


def exercise_tests(nb: Any) -> dict[str, set[str]]:
    """answer grade_id -> the grade_ids of the test cells of its exercise."""
    out: dict[str, set[str]] = {}
    for ex in exercises(nb):
        for answer in ex.answer_ids:
            out[answer] = set(ex.tests)
    return out


def baseline_failures(path: Path) -> list[str]:
    """Test cells that fail on the unmutated solution (must be empty for the mutation score to mean much)."""
    results = run_in_process(read(path).cells, cwd=path.parent)
    return [f"{r.grade_id}: {r.error}" for r in results.values() if not r.passed]


def blank_passes(path: Path) -> list[str]:
    """Test cells that pass on the released blank notebook (nbgrader's stubs in every answer): must be empty."""
    from nbgrader.preprocessors import ClearSolutions

    released, _ = ClearSolutions().preprocess(read(path), {})
    results = run_in_process(released.cells, cwd=path.parent)
    return [r.grade_id for r in results.values() if r.passed]


def score_notebook(path: Path, sample: int | None = None, seed: int = 0, isolation: bool = True,
                   equivalent: Mapping[tuple[str, str, str], str] | None = None) -> NotebookScore:
    """Run every mutant (or a random ``sample`` of them) of one notebook and sort it into the three bins.

    With ``isolation``, every test cell runs (not only up to the first failure), and a mutant that fails a
    test of another exercise is recorded in ``leaked``. ``equivalent`` lists mutants known not to change
    what the function returns (:attr:`Mutant.key` -> why): those that survive are not survivors.
    """
    nb = read(path)
    tests_of = exercise_tests(nb)
    mutants = mutants_of_notebook(nb, path.stem)
    if sample is not None and sample < len(mutants):
        mutants = sorted(random.Random(seed).sample(mutants, sample), key=mutants.index)
    score = NotebookScore(path.stem)
    start = time.perf_counter()
    for mutant in mutants:
        watched = tests_of.get(mutant.grade_id, set())
        cells = []
        for cell in nb.cells:
            if is_answer(cell) and grade_id(cell) == mutant.grade_id:
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
        elif equivalent and mutant.key in equivalent:
            score.equivalent.append((mutant, equivalent[mutant.key]))
        else:
            score.survived.append(mutant)
    score.seconds = time.perf_counter() - start
    return score


def score_line(notebook: str, killed: int, total: int, equivalent: int, leaked: int) -> str:
    """The figures of one notebook, worded the same by the benchmark and by ``lint-source``."""
    return (f"{notebook}: killed {killed}/{total} ({equivalent} equivalent; {killed}/{total - equivalent} of the "
            f"others); {leaked} cost points in another exercise")


def report(score: NotebookScore, verbose: bool = False) -> str:
    """The score line and the survivors / equivalent mutants of one notebook."""
    lines = [score_line(score.notebook, len(score.killed), score.total, len(score.equivalent), len(score.leaked))
             + f"; {score.seconds:.1f} s"]
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
