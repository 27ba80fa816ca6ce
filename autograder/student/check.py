"""`backprop-course check NOTEBOOK`: a student's dry run of the grader before submitting.

Runs a copy of the notebook top to bottom in a fresh kernel (the file itself is never changed) and scores
each graded cell the way nbgrader does (``nbgrader.utils.determine_grade``): an error or any stderr output
scores 0. Needs no gradebook. Hidden tests are not in a student's copy, so a pass here is necessary,
not sufficient: the grader also checks other points.

The grader judges each exercise on its own: a test cell's hidden part gives it the notes' own versions of
the functions the exercise calls (``course_lib.checks``). A student's copy has none, so while an
earlier exercise is wrong, ``judge_alone`` ends a dependent test cell with one of two verdicts, read here
from the cell's error: ``OwnCodeRight`` (this exercise's own code is right for your functions, so the
grader, which runs it with the notes' functions, gives its points) or ``NotJudgedYet`` (it cannot be
judged before the earlier exercise is fixed: shown as "not judged yet", never as 0).
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

__all__ = ["NOT_JUDGED", "OWN_CODE_RIGHT", "CellCheck", "check_notebook", "format_check"]

#: ``course_lib.checks``' verdicts, as the error name a test cell's output carries.
NOT_JUDGED, OWN_CODE_RIGHT = "NotJudgedYet", "OwnCodeRight"


@dataclass(frozen=True)
class CellCheck:
    """One graded cell's outcome: ``points`` is what the grader is expected to give (None: not judged yet)."""

    grade_id: str
    points: float | None
    max_points: float
    message: str

    @property
    def judged(self) -> bool:
        """False while the cell cannot be judged (an earlier exercise it calls is wrong)."""
        return self.points is not None

    @property
    def passed(self) -> bool:
        """True when the cell gets its points."""
        return self.points is not None and self.points >= self.max_points


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
    return [_judge(cell) for cell in graded]


def _judge(cell: nbformat.NotebookNode) -> CellCheck:
    """One executed graded cell as the grader would score it (see the module's docstring for the verdicts)."""
    score, max_score = determine_grade(cell, _SilentLog())
    points, best = float(score or 0), float(max_score or 0)
    message = cell_error_text(cell) if points < best else ""
    verdict = _verdict(cell)
    if verdict == NOT_JUDGED:
        return CellCheck(cell.metadata.nbgrader["grade_id"], None, best, message)
    if verdict == OWN_CODE_RIGHT:
        return CellCheck(cell.metadata.nbgrader["grade_id"], best, best, message)
    return CellCheck(cell.metadata.nbgrader["grade_id"], points, best, message)


def _verdict(cell: nbformat.NotebookNode) -> str:
    """The isolation verdict a cell ended with, if its only failure is one (stderr output still scores 0)."""
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    stderr = any(o.get("output_type") == "stream" and o.get("name") == "stderr" for o in cell.get("outputs", []))
    if len(errors) == 1 and not stderr and errors[0].get("ename") in (NOT_JUDGED, OWN_CODE_RIGHT):
        return errors[0]["ename"]
    return ""


def _status(r: CellCheck) -> str:
    if not r.judged:
        return "not judged yet"
    if r.message and r.passed:
        return "passed (your own code; fix the exercise it calls)"
    return "passed" if r.passed else "FAILED"


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
        points = f"{r.points:g}" if r.judged else "-"
        lines.append(f"{r.grade_id:<{width}}  {points}/{r.max_points:g}".ljust(width + 10) + f"  {_status(r)}")
    judged = [r for r in results if r.judged]
    total, best = sum(r.points or 0 for r in judged), sum(r.max_points for r in judged)
    lines.append(f"total: {total:g}/{best:g} on the visible tests" + took)
    waiting = sum(r.max_points for r in results if not r.judged)
    if waiting:
        lines.append(f"not judged yet: {waiting:g} more points, in exercises that call a function that is still "
                     "wrong (fix that one first; the grader judges each exercise on its own)")
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
    return 0 if all(r.passed and not r.message for r in results) else 1
