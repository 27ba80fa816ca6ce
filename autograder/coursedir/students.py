"""``students.json``: which student each folder under ``submitted/`` stands for (kept by ``collect``).

``collect`` writes it (the LMS's id, the name, the download layout per folder); grading, ``export`` and
Formgrader's student list read it through :func:`student_records`.
"""

from __future__ import annotations

import json

from autograder.coursedir.course import CourseDir
from autograder.errors import CourseError

__all__ = ["STUDENTS_FILE", "student_records"]

STUDENTS_FILE = "students.json"


def student_records(course: CourseDir) -> dict[str, dict[str, str]]:
    """``{folder name under submitted/: {"id": LMS id, "name": name, "format": layout}}`` from students.json.

    Grading and export use it to report the LMS's own id; a folder missing from it is its own id.
    """
    path = course.root / STUDENTS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CourseError(f"{path} is not readable JSON ({exc}): restore it from a backup or delete it "
                          "(collect then rebuilds it from the LMS names, but folder names may change)") from exc
    if not isinstance(data, dict):
        raise CourseError(f"{path} should map folder names to students: restore it or delete it")
    return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in data.items() if isinstance(v, dict)}
