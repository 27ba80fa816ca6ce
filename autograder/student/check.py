"""`backprop-course check NOTEBOOK`: a student's dry run of the grader before submitting.

Runs a copy of the notebook top to bottom in a fresh kernel (the file itself is never changed) and scores
each graded cell the way nbgrader does (``nbgrader.utils.determine_grade``): an error or any stderr output
scores 0. Needs no gradebook. Hidden tests are not in a student's copy, so a pass here is necessary,
not sufficient: the grader also checks other points.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbgrader.utils import determine_grade, is_grade

from autograder.errors import CourseError
from autograder.notebook.reading import cell_error_text, read_notebook_problem

__all__ = ["CellCheck", "check_notebook", "format_check"]


@dataclass(frozen=True)
class CellCheck:
    """One graded cell's outcome."""

    grade_id: str
    points: float
    max_points: float
    message: str


def check_notebook(path: Path, timeout: int = 60) -> list[CellCheck]:
    """Execute a copy of ``path`` and score every graded cell."""

    path = Path(path)
    if not path.exists():
        raise CourseError(f"{path} does not exist: give the path of your .ipynb file")
    problem = read_notebook_problem(path)
    if problem:
        raise CourseError(f"{path.name} {problem}. Re-download your last saved copy from JupyterLab "
                          "(File > Download) or ask your instructor for help.")
    nb = nbformat.read(str(path), as_version=4)
    graded = [c for c in nb.cells if is_grade(c)]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / path.name
        for sibling in path.parent.iterdir():  # data files next to the notebook, as in the grader
            if sibling.is_file() and sibling.suffix != ".ipynb":
                shutil.copy(sibling, Path(tmp) / sibling.name)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(work.parent)}})
        try:
            # the kernel's own log lines (ipykernel's TCP notice, for one) are not the student's business
            client.execute(stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        except DeadKernelError:
            return [CellCheck(c.metadata.nbgrader["grade_id"], 0.0, float(c.metadata.nbgrader.get("points", 0)),
                              "the kernel died (os._exit or a crash): nothing after that point ran")
                    for c in graded]
    out = []
    for cell in graded:
        score, max_score = determine_grade(cell, _SilentLog())
        message = cell_error_text(cell) if (score or 0) < (max_score or 0) else ""
        out.append(CellCheck(cell.metadata.nbgrader["grade_id"], float(score or 0), float(max_score or 0), message))
    return out


class _SilentLog:
    def warning(self, *args: object, **kwargs: object) -> None:
        pass

    info = debug = error = warning


def format_check(results: list[CellCheck], seconds: float | None = None) -> str:
    """The check as a table plus the message of every cell that lost points."""
    took = f" ({seconds:.1f} s)" if seconds else ""
    if not results:
        return (f"This notebook is practice: nothing in it is graded, so there are no points to check. "
                f"It ran top to bottom{took}; open it in JupyterLab to read each cell's output.")
    width = max(len(r.grade_id) for r in results)
    lines = [f"{'graded cell':<{width}}  points  status"]
    for r in results:
        status = "passed" if r.points >= r.max_points else "FAILED"
        lines.append(f"{r.grade_id:<{width}}  {r.points:g}/{r.max_points:g}".ljust(width + 10) + f"  {status}")
    total, best = sum(r.points for r in results), sum(r.max_points for r in results)
    lines.append(f"total: {total:g}/{best:g} on the visible tests" + (f" ({seconds:.1f} s)" if seconds else ""))
    for r in results:
        if r.message:
            lines += ["", f"--- {r.grade_id} ---", r.message]
    lines += ["", "The grader also runs hidden tests at other points: a pass here means you are on track, "
              "not that the score is final."]
    return "\n".join(lines)


def run_check(path: Path) -> int:
    """CLI body: print the check; exit status 0 when every visible test passed, 1 otherwise."""
    start = time.perf_counter()
    results = check_notebook(path)
    print(format_check(results, time.perf_counter() - start))
    return 0 if all(r.points >= r.max_points for r in results) else 1
