"""``grade --part K/N``: which students one of N grading machines grades.

Several machines grade one class into one PostgreSQL gradebook (docs/deploy.md, "Grading on several
machines"), each from its own course folder. Each runs ``grade --part K/N`` with its own K: a student
belongs to part ``sha256(id) mod N + 1``, a fixed function of the id alone, so the machines agree on the
split without talking to each other, even when their ``submitted/`` folders do not list the same students
(a late collect on one of them), and every student is graded by exactly one machine.
"""

from __future__ import annotations

import hashlib
import re

from autograder.errors import CourseError

__all__ = ["Part", "in_part", "parse_part"]

Part = tuple[int, int]  # (K, N): the K-th of N parts, 1 <= K <= N

_PART = re.compile(r"\s*(\d{1,4})\s*/\s*(\d{1,4})\s*")


def parse_part(text: str) -> Part:
    """``"K/N"`` as ``(K, N)``; a :class:`CourseError` saying what to write for anything else."""
    m = _PART.fullmatch(text or "")
    k, n = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    if not m or n < 1 or not 1 <= k <= n:
        raise CourseError(f"--part {text!r} is not K/N with 1 <= K <= N: give each of N grading machines its own "
                          "K, e.g. --part 1/2 on one and --part 2/2 on the other")
    return k, n


def in_part(student: str, part: Part | None) -> bool:
    """Whether ``student`` belongs to ``part`` (every student does when ``part`` is None)."""
    if part is None:
        return True
    k, n = part
    return int.from_bytes(hashlib.sha256(student.encode("utf-8")).digest()[:8], "big") % n == k - 1
