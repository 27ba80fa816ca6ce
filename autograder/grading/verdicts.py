"""What each test cell's feedback says, kept with the course's record so a regenerated page says it too.

The worker decides, per test cell, what the student's feedback page may show (the visible checks' message
as the grader's own re-run gave it, the hidden tests' passed/failed, the score: see
:func:`autograder.grading.feedback.verdict_text`) and hands it over as plain data
(``{"rechecked": bool, "notebooks": {notebook: {cell: {"score", "max_score", "visible", "verified"}}}}``).
The ``grade`` process, the only writer, saves it when it records the result
(``.grading/verdicts/<student>/<assignment>.json``, written atomically). Whenever the page is generated
again from the gradebook (a late penalty, a manual grade, a comment:
:func:`autograder.grading.record.refresh_feedback`), :func:`page_verdicts` gives the feedback
preprocessor the same verdicts with the record's current scores, so the page keeps its diagnoses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autograder.coursedir.course import CourseDir
from autograder.fsutil import atomic_write_text

__all__ = ["WORKER_FILE", "load_verdicts", "page_verdicts", "save_verdicts", "verdicts_path", "worker_verdicts"]

WORKER_FILE = "feedback-verdicts.json"  # where the worker leaves them in its scratch folder


def verdicts_path(course: CourseDir, student: str, assignment: str) -> Path:
    """Where one submission's verdicts are kept."""
    return course.state / "verdicts" / student / f"{assignment}.json"


def worker_verdicts(result: Any, scratch: str | Path) -> dict | None:
    """The verdicts a worker handed over: on its result (``verdicts``) or in its scratch folder; None if none."""
    data = getattr(result, "verdicts", None)
    if isinstance(data, dict) and data:
        return data
    try:
        data = json.loads((Path(scratch) / WORKER_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def save_verdicts(course: CourseDir, student: str, assignment: str, data: dict | None) -> None:
    """Keep ``data`` as this submission's verdicts (atomically); None removes verdicts of an earlier grading."""
    path = verdicts_path(course, student, assignment)
    if data is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True))


def load_verdicts(course: CourseDir, student: str, assignment: str) -> dict | None:
    """This submission's saved verdicts, or None (never graded with them, or a damaged file)."""
    try:
        data = json.loads(verdicts_path(course, student, assignment).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("notebooks"), dict) else None


def page_verdicts(saved: dict, scores: dict[tuple[str, str], tuple[float, float]]) -> dict:
    """``saved`` with each cell's score and maximum as the record holds them now (a manual grade, say)."""
    notebooks: dict[str, dict] = {}
    for notebook, cells in saved.get("notebooks", {}).items():
        out = notebooks.setdefault(notebook, {})
        for cell, entry in (cells if isinstance(cells, dict) else {}).items():
            out[cell] = dict(entry) if isinstance(entry, dict) else {}
            if (notebook, cell) in scores:
                out[cell]["score"], out[cell]["max_score"] = scores[(notebook, cell)]
    return {"rechecked": bool(saved.get("rechecked")), "notebooks": notebooks}
