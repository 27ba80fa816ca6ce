"""Settings every layer reads: the course id and the ``BPC_*`` environment defaults.

A JupyterHub deployment sets ``BPC_COURSE_ID``, ``BPC_COURSE_DIR`` and ``BPC_GRADEBOOK_URL`` for every
process (docs/deploy.md), so the grader, its workers and nbgrader's own commands agree without flags.
"""

from __future__ import annotations

import os
import re

from autograder.errors import CourseError

__all__ = ["COURSE_ID", "COURSE_ID_RULE", "check_course_id", "default_course_dir", "default_db_url"]

COURSE_ID_RULE = re.compile(r"[A-Za-z0-9_-]+")  # the one rule: the CLI and the hub (deploy/hub) use it
# The course's name in nbgrader's exchange and gradebook.
COURSE_ID = os.environ.get("BPC_COURSE_ID") or "backprop-course"


def check_course_id(course_id: str = COURSE_ID) -> str:
    """``course_id`` if it follows the rule (letters, digits, ``-``, ``_``), else a CourseError saying so."""
    if not COURSE_ID_RULE.fullmatch(course_id):
        raise CourseError(f"BPC_COURSE_ID {course_id!r}: use letters, digits, '-' and '_'")
    return course_id


def default_course_dir() -> str:
    """The course folder when ``--course-dir`` is not given: ``$BPC_COURSE_DIR``, else ``course``."""
    return os.environ.get("BPC_COURSE_DIR") or "course"


def default_db_url() -> str | None:
    """The gradebook URL when ``--db`` is not given: ``$BPC_GRADEBOOK_URL``, else None (SQLite)."""
    return os.environ.get("BPC_GRADEBOOK_URL") or None
