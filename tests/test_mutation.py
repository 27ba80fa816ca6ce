"""Mutation testing of the notebooks' graded tests (``benchmarks/mutation.py``).

The full run (every mutant of every solution region, about 140 mutants) takes about 15 seconds in-process,
so it runs in full, in the ``kernel`` tier (it runs notebook cells): every mutant that is not listed as
equivalent must lose points in the exercise it touches, and in no other exercise (issue 12); the released
blanks score 0.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.coursedir.course import source_assignments
from benchmarks import mutation
from testkit.notebook_helpers import notebook_paths, run_in_process

ROOT = Path(__file__).resolve().parents[1]
# the graded notebooks (their metadata is read; no mutant is generated at import time)
GRADED = [p for p in notebook_paths() if p.parent.name in source_assignments(p.parents[1])]


def test_the_graded_notebooks_have_mutants():
    assert [p.parent.name for p in GRADED] == ["01-chain-rule", "02-sigmoid-chain", "03-many-paths",
                                                "04-all-parameters", "05-write-the-engine"]


def test_every_kind_of_mutant_is_generated():
    kinds = {m.kind for p in GRADED for m in mutation.mutants_of_notebook(p)}
    assert kinds == {"sign", "negate", "drop", "const", "sigma", "matmul", "accumulate", "reset"}, kinds


def test_mutants_of_a_small_solution():
    source = (
        "def f(s, A, B, c):\n"
        '    """doc"""\n'
        "    ### BEGIN SOLUTION\n"
        "    g = s * (1 - s) + 2 * c\n"
        "    return A.T @ B - g\n"
        "    ### END SOLUTION\n"
    )
    found = {(m.kind, m.description) for m in mutation.mutants_of_cell("nb", "cell", source)}
    for expected in [
        ("sigma", "`s * (1 - s)` -> `s`"),
        ("sign", "`s * (1 - s) + 2 * c` -> `s * (1 - s) - 2 * c`"),
        ("drop", "`s * (1 - s) + 2 * c` -> `s * (1 - s)`"),
        ("negate", "`2 * c` -> `-(2 * c)`"),
        ("const", "`2` -> `3`"),
        ("matmul", "`A.T @ B` -> `B @ A.T`"),
        ("matmul", "`A.T` -> `A`"),
        ("drop", "`A.T @ B - g` -> `A.T @ B`"),
    ]:
        assert expected in found, expected
    # code outside the solution region (the signature, the docstring) is never mutated
    assert not any("doc" in d or "def" in d for _, d in found)


@pytest.mark.kernel
def test_in_process_runner_scores_errors_and_stderr_like_nbgrader():
    def cell(source, **nbgrader):
        c = new_code_cell(source)
        if nbgrader:
            c.metadata["nbgrader"] = {"schema_version": 3, "locked": True, "solution": False, **nbgrader}
        return c

    nb = new_notebook(cells=[
        cell("import sys\nvalue = 1"),
        cell("assert value == 1", grade=True, grade_id="passes", points=1),
        cell("print('oops', file=sys.stderr)", grade=True, grade_id="stderr", points=1),
        cell("assert value == 2, 'wrong'", grade=True, grade_id="fails", points=1),
        cell("import warnings\nwarnings.warn('careful')", grade=True, grade_id="warns", points=1),
    ])
    results = run_in_process(nbformat.from_dict(nb).cells, cwd=ROOT)
    assert results["passes"].passed
    assert not results["stderr"].passed and "oops" in results["stderr"].error
    assert not results["fails"].passed and "wrong" in results["fails"].error
    assert not results["warns"].passed and "careful" in results["warns"].error


@pytest.mark.kernel
@pytest.mark.parametrize("path", GRADED, ids=[p.parent.name for p in GRADED])
def test_the_unmutated_solutions_pass_every_test(path):
    assert mutation.baseline_failures(path) == []


@pytest.mark.kernel
@pytest.mark.parametrize("path", GRADED, ids=[p.parent.name for p in GRADED])
def test_the_released_blanks_pass_no_test(path):
    assert mutation.blank_passes(path) == []


@pytest.mark.kernel  # runs every mutant's notebook cells in-process: about 35 s, not the fast tier
@pytest.mark.parametrize("path", GRADED, ids=[p.parent.name for p in GRADED])
def test_every_non_equivalent_mutant_is_killed_in_its_own_exercise_only(path):
    score = mutation.score_notebook(path)
    print("\n" + mutation.report(score))
    assert score.total > 0
    assert not score.survived, "\n" + mutation.report(score)
    assert not score.leaked, "\n" + mutation.report(score)


def test_equivalent_mutants_listed_still_exist():
    """A stale entry in EQUIVALENT (its mutant no longer exists) must be removed."""
    keys = {m.key for p in GRADED for m in mutation.mutants_of_notebook(p)}
    stale = [k for k in mutation.EQUIVALENT if k not in keys]
    assert not stale, stale
