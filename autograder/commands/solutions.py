"""`backprop-course solutions`: each assignment's worked derivations and model answers, after its due date.

A release holds no solutions: the worked derivations (cells tagged ``worked-solution``,
:mod:`autograder.notebook.worked`) and the solution code of the answer cells are the graded answers. Once an
assignment's due date has passed for every student (the due date in ``course/deadlines.toml`` and the
latest extension there, :mod:`autograder.coursedir.deadlines`), this command writes them as one notebook per
source notebook: ``course/solutions/<assignment>/<notebook>-solutions.ipynb``, to hand out as the
instructor hands out a release. Earlier it refuses, naming the date and the student with the latest
extension, unless ``--force``.

The notebook is the source notebook with the hidden tests taken out (they hold the references and hidden
cases, which later students' grades rely on), the solution markers removed (the model answer stands in each
answer cell), no nbgrader metadata (it is not something to hand in), no outputs, and a first cell that says
what it is and when it was released.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from autograder.coursedir.course import CourseDir
from autograder.coursedir.deadlines import Deadlines, read_deadlines
from autograder.errors import CourseError
from autograder.notebook.cells import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    is_answer,
    solution_text,
    strip_hidden_tests,
)
from autograder.notebook.worked import is_worked

__all__ = ["Closed", "closing_time", "solutions", "solutions_notebook"]

SOLUTIONS_DIR = "solutions"


@dataclass(frozen=True)
class Closed:
    """When an assignment closes for everyone: its due date, and the latest extension past it (if any)."""

    assignment: str
    due: dt.datetime  # UTC, naive
    last: dt.datetime  # UTC, naive: the due date or the latest extended due time
    student: str | None  # whose extension ends last (None: no extension goes past the due date)

    def describe(self) -> str:
        """"due 2026-10-05 23:59 UTC" plus the latest extension, for messages."""
        text = f"due {_when(self.due)}"
        if self.student is not None:
            text += f", and {self.student}'s extension runs to {_when(self.last)}"
        return text


def _when(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def closing_time(assignment: str, deadlines: Deadlines) -> Closed:
    """When ``assignment`` closes for every student (a CourseError if ``deadlines.toml`` gives no due date)."""
    due = deadlines.due.get(assignment)
    if due is None:
        raise CourseError(f"{assignment} has no due date in deadlines.toml, so its solutions cannot be released "
                          f"safely: add it under [due] (docs/instructor.md), or pass --force")
    last, student = due, None
    for (name, who), value in sorted(deadlines.extensions.items()):
        if name != assignment:
            continue
        ends = value if isinstance(value, dt.datetime) else due + value
        if ends > last:
            last, student = ends, who
    return Closed(assignment, due, last, student)


def _source_text(cell: Any) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def solutions_notebook(nb: Any, assignment: str, note: str) -> Any:
    """Source notebook ``nb`` as its solutions: hidden tests out, model answers in, no nbgrader metadata.

    ``note`` is the release line of the first cell (when and why the solutions are out).
    """
    out = nbformat.from_dict(copy.deepcopy(dict(nb)))
    for cell in out.cells:
        source = _source_text(cell)
        if BEGIN_HIDDEN in source:
            source = strip_hidden_tests(source)
        if is_answer(cell) or BEGIN_SOLUTION in source:
            source = solution_text(source)
        cell.source = source
        cell.metadata.pop("nbgrader", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    worked = sum(1 for c in out.cells if is_worked(c))
    head = nbformat.v4.new_markdown_cell(
        f"**Solutions: {assignment}.** {note} Each answer cell holds a model answer (one way to write it; "
        f"yours may differ and still be right), and the {worked} worked derivation(s) sit after the exercises "
        "they explain, folded: try the exercise again before you open one. The self-checks still run.")
    out.cells.insert(0, head)
    out.metadata.pop("nbgrader", None)
    return out


def solutions(
    course: CourseDir,
    assignments: list[str] | None = None,
    *,
    force: bool = False,
    now: dt.datetime | None = None,
) -> tuple[list[Path], list[str]]:
    """Write the solutions of every assignment in ``assignments`` (default: all) that has closed.

    Returns the notebooks written and one line for each assignment held back (not closed yet). A named
    assignment that has not closed is a CourseError unless ``force``; so is a course with nothing closed.
    ``now`` (UTC, naive) is for tests; it defaults to the current time.
    """
    known = course.assignments()
    if not known:
        raise CourseError(f"no assignments in {course.source}: run `backprop-course release` first")
    unknown = [a for a in assignments or [] if a not in known]
    if unknown:
        raise CourseError(f"no assignment {', '.join(unknown)} in {course.source} (it has {', '.join(known)})")
    chosen = assignments or known
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    deadlines = read_deadlines(course.deadlines_file, known)
    written: list[Path] = []
    held: list[str] = []
    for assignment in chosen:
        note, reason = _release_note(assignment, deadlines, now, force)
        if reason:
            held.append(reason)
            continue
        written += _write(course, assignment, note)
    if held and (assignments or not written):
        raise CourseError("; ".join(held) + ". Solutions are released once every student's time is up; "
                          "pass --force to release them anyway")
    return written, held


def _release_note(assignment: str, deadlines: Deadlines, now: dt.datetime, force: bool) -> tuple[str, str]:
    """(the first cell's release line, "") or ("", why the assignment is held back)."""
    try:
        closed = closing_time(assignment, deadlines)
    except CourseError as exc:
        if not force:
            return "", str(exc).replace(", or pass --force", "")
        return f"Released on {_when(now)}, before any due date was set (--force).", ""
    if closed.last <= now:
        return f"Released on {_when(now)}, after the due date ({closed.describe()}).", ""
    if force:
        return f"Released on {_when(now)}, before the due date ({closed.describe()}; --force).", ""
    return "", f"{assignment} is not closed yet: {closed.describe()}"


def _write(course: CourseDir, assignment: str, note: str) -> list[Path]:
    folder = course.root / SOLUTIONS_DIR / assignment
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted((course.source / assignment).glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        target = folder / f"{path.stem}-solutions.ipynb"
        staging = target.with_name(target.name + ".part")
        nbformat.write(solutions_notebook(nb, assignment, note), str(staging))
        staging.replace(target)
        written.append(target)
    return written
