"""nbgrader's cell conventions, in one place: what kind a cell is, and its marked regions.

Every module that asks "is this a test cell?" or strips hidden tests uses these functions, so the whole
project reads a notebook the way nbgrader 0.9.6 does:

* kinds follow :mod:`nbgrader.utils` (``is_grade``, ``is_solution``, ``is_locked``); an *answer* cell is a
  code cell with ``solution`` and not ``grade``, a *test* cell a code cell with ``grade`` and not
  ``solution``, a *manually graded* cell has both;
* a region starts on the line that **contains** its begin marker and ends on the line that contains its
  end marker, anywhere in the line, as nbgrader's ``ClearSolutions`` and ``ClearHiddenTests`` decide
  (their delimiter traits' defaults are the markers).

Cells may be :class:`nbformat.NotebookNode` objects or plain dicts (as read from JSON).

This module imports neither nbgrader nor nbformat: importing nbgrader loads its whole package (server
extensions included, about 1,300 modules and seconds on a loaded machine), and every ``backprop-course``
command, ``--help`` included, reaches this module. nbgrader's three rules and its marker defaults are
therefore restated here; tests/test_cells.py checks them against nbgrader 0.9.6 on many cells.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from autograder.errors import CourseError

__all__ = [
    "BEGIN_HIDDEN",
    "BEGIN_SOLUTION",
    "CODE_STUB",
    "END_HIDDEN",
    "END_SOLUTION",
    "MarkerError",
    "answer_cells",
    "grade_id",
    "has_hidden_tests",
    "is_answer",
    "is_graded",
    "is_locked",
    "is_manual",
    "is_test",
    "meta",
    "points",
    "regions",
    "replace_regions",
    "solution_text",
    "strip_hidden_tests",
    "test_cells",
]

# nbgrader's defaults: ClearSolutions.begin/end_solution_delimeter, ClearHiddenTests.begin/end_test_delimeter
BEGIN_SOLUTION: str = "BEGIN SOLUTION"
END_SOLUTION: str = "END SOLUTION"
BEGIN_HIDDEN: str = "BEGIN HIDDEN TESTS"
END_HIDDEN: str = "END HIDDEN TESTS"
CODE_STUB: str = "# YOUR CODE HERE\nraise NotImplementedError()"  # ClearSolutions().code_stub["python"]


class MarkerError(CourseError):
    """A begin marker without its end marker (or nested regions): the cell cannot be read as nbgrader would."""


def meta(cell: Any) -> dict[str, Any]:
    """The cell's ``metadata.nbgrader`` (an empty dict when it has none)."""
    return dict((cell.get("metadata") or {}).get("nbgrader") or {})


def _code(cell: Any) -> bool:
    return cell.get("cell_type") == "code"


def _flag(cell: Any, name: str) -> bool:
    """``metadata.nbgrader[name]`` as nbgrader.utils reads it (False when the cell has no nbgrader metadata)."""
    metadata = cell.get("metadata") or {}
    if "nbgrader" not in metadata:
        return False
    return bool(metadata["nbgrader"].get(name, False))


def _is_grade(cell: Any) -> bool:  # nbgrader.utils.is_grade
    return _flag(cell, "grade")


def _is_solution(cell: Any) -> bool:  # nbgrader.utils.is_solution
    return _flag(cell, "solution")


def is_answer(cell: Any) -> bool:
    """An autograded answer cell: code the student writes (``solution``, not ``grade``)."""
    return _code(cell) and _is_solution(cell) and not _is_grade(cell)


def is_test(cell: Any) -> bool:
    """An autograded test cell: locked code that gives points (``grade``, not ``solution``)."""
    return _code(cell) and _is_grade(cell) and not _is_solution(cell)


def is_manual(cell: Any) -> bool:
    """A manually graded answer (``grade`` and ``solution``): a person gives its points, in Formgrader."""
    return _is_grade(cell) and _is_solution(cell)


def is_graded(cell: Any) -> bool:
    """Any cell that carries points (a test cell or a manually graded answer)."""
    return _is_grade(cell)


def is_locked(cell: Any) -> bool:
    """nbgrader restores this cell's source from the gradebook before grading (students cannot change it)."""
    if _is_solution(cell):  # nbgrader.utils.is_locked
        return False
    return _is_grade(cell) or _flag(cell, "locked")


def grade_id(cell: Any) -> str:
    """The cell's ``grade_id`` (``""`` when it has none)."""
    return str(meta(cell).get("grade_id") or "")


def points(cell: Any) -> float:
    """The points a graded cell is worth (0 for any other cell)."""
    return float(meta(cell).get("points") or 0) if is_graded(cell) else 0.0


def test_cells(nb: Any) -> Iterator[Any]:
    """The notebook's autograded test cells, in order."""
    return (c for c in nb.get("cells", []) if is_test(c))


def answer_cells(nb: Any) -> Iterator[Any]:
    """The notebook's autograded answer cells, in order."""
    return (c for c in nb.get("cells", []) if is_answer(c))


def regions(source: str, begin: str, end: str) -> list[tuple[int, int]]:
    """``(first, last)`` line indices of each ``begin`` … ``end`` region of ``source``, markers included."""
    found, start = [], None
    for i, line in enumerate(source.split("\n")):
        if begin in line:
            if start is not None:
                raise MarkerError(f"{begin!r} inside another {begin!r} region")
            start = i
        elif end in line and start is not None:
            found.append((start, i))
            start = None
    if start is not None:
        raise MarkerError(f"{begin!r} without {end!r}")
    return found


def replace_regions(source: str, begin: str, end: str, replacement: str | None) -> str:
    """``source`` with each ``begin`` … ``end`` region (marker lines included) replaced.

    ``replacement`` None removes the region; otherwise its lines take the region's place, indented like
    the begin marker's line (as nbgrader's ``ClearSolutions`` indents the code stub).
    """
    lines = source.split("\n")
    spans = regions(source, begin, end)
    if not spans:
        return source
    out: list[str] = []
    last = 0
    for first, final in spans:
        out.extend(lines[last:first])
        if replacement is not None:
            marker = lines[first]
            indent = marker[: len(marker) - len(marker.lstrip())]
            out.extend(indent + r for r in replacement.split("\n"))
        last = final + 1
    out.extend(lines[last:])
    return "\n".join(out)


def has_hidden_tests(source: str) -> bool:
    """Whether ``source`` holds a hidden-test region."""
    return BEGIN_HIDDEN in source


def strip_hidden_tests(source: str, note: str | None = None) -> str:
    """``source`` without its hidden-test regions; ``note`` (if given) stands where each region was."""
    return replace_regions(source, BEGIN_HIDDEN, END_HIDDEN, note)


def solution_text(source: str) -> str:
    """The worked answer: ``source`` with the solution marker lines removed (what is between them kept)."""
    return "\n".join(line for line in source.split("\n") if BEGIN_SOLUTION not in line and END_SOLUTION not in line)
