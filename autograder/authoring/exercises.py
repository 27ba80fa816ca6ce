"""A notebook's graded exercises: each ``## Exercise N.M — title (P points)`` heading and the cells under it.

The course's convention: an exercise is a level-2 markdown heading with its number, title and points; the
answer cells and test cells after it (until the next level-2 heading) belong to it. Grading does not need
the headings (nbgrader scores test cells); the author's tools do, to say which tests judge which answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from autograder.notebook.cells import grade_id, is_answer, is_test, meta

__all__ = ["EXERCISE_RE", "Exercise", "exercises", "is_demo"]

#: ``## Exercise 2.3 — dL/dw1 (3 points)``
EXERCISE_RE = re.compile(r"^## Exercise (?P<number>\d+\.\d+) — (?P<title>.+) \((?P<points>\d+(?:\.\d+)?) points?\)\s*$")


def is_demo(cell: Any) -> bool:
    """An ungraded illustration (figure, widget, training run, scratch cell): tagged ``demo``; no test needs it."""
    return "demo" in (cell.get("metadata", {}).get("tags") or [])


@dataclass
class Exercise:
    """One ``## Exercise N.M — title (P points)`` heading and the cells under it."""

    number: str
    title: str
    points: float
    answer_ids: list[str] = field(default_factory=list)
    tests: dict[str, float] = field(default_factory=dict)  # grade_id -> points
    heading_cell: int = -1  # index of the heading's markdown cell


def exercises(nb: Any) -> list[Exercise]:
    """The exercises of a notebook, in order. Cells belong to the latest exercise heading; any other
    level-2 heading ends the exercise."""
    out: list[Exercise] = []
    current: Exercise | None = None
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                m = EXERCISE_RE.match(line.strip())
                if m:
                    current = Exercise(m["number"], m["title"], float(m["points"]), heading_cell=index)
                    out.append(current)
                elif line.startswith("## "):
                    current = None
            continue
        if current is None:
            continue
        if is_answer(cell):
            current.answer_ids.append(grade_id(cell))
        elif is_test(cell):
            current.tests[grade_id(cell)] = float(meta(cell).get("points", 0))
    return out
