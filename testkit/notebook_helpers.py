"""Helpers shared by the notebook tests and the benchmarks: find the course notebooks, read their nbgrader
metadata, and run a notebook in a kernel.

Grouping cells into exercises and the in-process runner are package code (``backprop-course lint-source``
uses them): :mod:`autograder.authoring.exercises` and :mod:`autograder.authoring.inprocess`, re-exported
here under their old names.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from autograder.authoring.exercises import EXERCISE_RE, Exercise, exercises, is_demo
from autograder.authoring.inprocess import CellResult, CellTimeout, python_source, run_in_process
from autograder.notebook.cells import is_answer, is_test, meta

__all__ = ["ASSIGNMENTS", "EXERCISE_RE", "NOTEBOOKS", "ROOT", "CellResult", "CellTimeout", "Exercise", "execute",
           "exercises", "is_answer", "is_demo", "is_test", "kernel_env", "nbgrader_meta", "notebook_paths",
           "outputs_of", "python_source", "read", "run_in_process"]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ASSIGNMENTS = ("00-start-here", "01-chain-rule", "02-sigmoid-chain", "03-many-paths", "04-all-parameters",
               "05-write-the-engine")


def notebook_paths() -> list[Path]:
    """``notebooks/<assignment>/<notebook>.ipynb`` for every assignment, in course order."""
    paths = []
    for assignment in ASSIGNMENTS:
        found = sorted((NOTEBOOKS / assignment).glob("*.ipynb"))
        paths.extend(p for p in found if ".ipynb_checkpoints" not in p.parts)
    return paths


def nbgrader_meta(cell) -> dict:
    """The cell's ``nbgrader`` metadata (empty dict if it has none): :func:`autograder.notebook.cells.meta`."""
    return meta(cell)


def read(path: Path):
    """Read a notebook (nbformat 4)."""
    return nbformat.read(str(path), as_version=4)


# ---------------------------------------------------------------------------------------------- kernels
def kernel_env() -> dict[str, str]:
    """Environment for notebook kernels and nbgrader: course_lib importable, the venv's bin/ on PATH
    (nbgrader shells out to ``alembic`` by name)."""
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    return env


def execute(nb, cwd: Path, *, allow_errors: bool = False, timeout: int = 60):
    """Run ``nb`` (modified in place) top to bottom in a fresh ``python3`` kernel; return seconds taken."""
    import time

    from nbclient import NotebookClient

    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
        resources={"metadata": {"path": str(cwd)}},
    )
    start = time.perf_counter()
    client.execute(env=kernel_env())
    return time.perf_counter() - start


def outputs_of(cell, kind: str) -> list:
    """The outputs of a code cell of one kind: "error", "stderr" or "execute_result"."""
    out = []
    for o in cell.get("outputs", []):
        is_stderr = o.output_type == "stream" and o.get("name") == "stderr"
        if (kind == "stderr" and is_stderr) or o.output_type == kind:
            out.append(o)
    return out
