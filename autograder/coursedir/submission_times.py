"""Where each filed submission's time came from: ``course/submission-times.json``, written by ``collect``.

A submission's time decides its late penalty, so only a time the LMS (or nbgrader's exchange, or the
instructor) vouches for is written into its ``timestamp.txt``. When there is none, ``collect`` writes no
``timestamp.txt`` and records why here; ``grade`` then puts that reason on the submission's row (no late
penalty is computed for it) and lists it under "needs your attention" (:func:`missing_time_reason`).
"""

from __future__ import annotations

import json
from pathlib import Path

from autograder.coursedir.course import CourseDir
from autograder.fsutil import atomic_write_text

__all__ = ["TIMES_FILE", "missing_time_reason", "record_time"]

TIMES_FILE = "submission-times.json"


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record_time(course: CourseDir, folder: str, assignment: str, source: str, reason: str = "") -> None:
    """Record where the time of ``folder/assignment`` came from (``reason``: why there is none, else "")."""
    path = course.root / TIMES_FILE
    data = _read(path)
    data.setdefault(folder, {})[assignment] = {"source": source, "missing": reason}
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def missing_time_reason(course: CourseDir, folder: str, assignment: str) -> str:
    """Why ``folder/assignment`` has no trusted submission time ("" when it has one or collect did not file it)."""
    entry = _read(course.root / TIMES_FILE).get(folder, {}).get(assignment, {})
    return str(entry.get("missing") or "") if isinstance(entry, dict) else ""
