"""Mutation testing of the course notebooks: do the graded tests catch the typical backprop bugs?

Every solution region (``### BEGIN SOLUTION`` … ``### END SOLUTION``) of every source notebook is mutated
automatically, one small change at a time, with the mistakes students actually make (the kinds are listed
in :mod:`autograder.authoring.mutants`: sign, negate, drop, const, sigma, matmul,
accumulate (``=`` for ``+=``), reset (a reset to 0 removed)).

A mutant is *killed* when a graded test cell of the exercise it touches loses its points (an exception,
or output on stderr, as nbgrader scores it). Each mutant runs the notebook's code cells in-process with
``exec`` in a fresh namespace (no kernel), skipping the ungraded ``demo`` cells. Every test cell runs, so
the script also counts the mutants that cost points in *another* exercise's tests (issue 12: a mistake
costs points once, in the exercise where it lives; must be 0), and checks that the correct solutions get
full marks and the released blanks (nbgrader's stubs) 0.

The engine is package code (:mod:`autograder.authoring.mutation`), shared with ``backprop-course
lint-source``, which grades the same mutants with the real grader.

Run ``python -m benchmarks.mutation`` (optionally ``--notebook 02`` or ``--sample 20``) to print the
mutation score per notebook and list the survivors. A survivor must either be killed by a stronger test
or be listed in ``EQUIVALENT`` below with a one-line reason.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.authoring import mutants as _mutants
from autograder.authoring.mutants import Mutant, mutants_of_cell
from autograder.authoring.mutation import (
    NotebookScore,
    baseline_failures,
    blank_passes,
    read,
    report,
)
from autograder.authoring.mutation import score_notebook as _score_notebook

ROOT = Path(__file__).resolve().parents[1]

from testkit.notebook_helpers import notebook_paths  # noqa: E402

__all__ = ["EQUIVALENT", "Mutant", "NotebookScore", "baseline_failures", "blank_passes", "main",
           "mutants_of_cell", "mutants_of_notebook", "report", "score_notebook"]

#: Mutants that no test can kill because they do not change what the function returns.
#: Key: (notebook stem, answer cell grade_id, "kind: `before` -> `after`"); value: why it is equivalent.
#: Empty at present: every mutant of the current solutions is killed (``--verbose`` shows by which test).
EQUIVALENT: dict[tuple[str, str, str], str] = {}


def mutants_of_notebook(path: Path) -> list[Mutant]:
    """Every mutant of every graded answer cell (one under an exercise heading) of the notebook at ``path``."""
    return _mutants.mutants_of_notebook(read(path), path.stem)


def score_notebook(path: Path, sample: int | None = None, seed: int = 0, isolation: bool = True) -> NotebookScore:
    """:func:`autograder.authoring.mutation.score_notebook` with this course's :data:`EQUIVALENT` mutants."""
    return _score_notebook(path, sample, seed, isolation, equivalent=EQUIVALENT)


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
