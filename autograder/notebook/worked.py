"""Worked derivations: in the source notebook and on the site, never in a student's release.

A graded exercise asks the student to derive something (local derivatives, a factor table, a matrix form);
the worked derivation comes right after the attempt, folded under ``<details>``, in a markdown cell tagged
:data:`WORKED_TAG`. It *is* the answer, so ``backprop-course release`` (and nbgrader's own
``generate_assignment``, through ``nbgrader_config.py``) drops every such cell from the student version:
:class:`RemoveWorkedSolutions` runs first among nbgrader's release preprocessors. The static site keeps
them (folded), as it keeps the solutions.

A worked cell is a markdown cell without nbgrader metadata (it is not a gradebook cell: nothing is saved,
locked or checksummed for it) whose source starts with ``<details>``; :func:`check_worked_cell` says what
is wrong with one that is not.
"""

from __future__ import annotations

from typing import Any

from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.errors import CourseError

__all__ = ["WORKED_TAG", "RemoveWorkedSolutions", "check_worked_cell", "is_worked", "release_preprocessors"]

WORKED_TAG = "worked-solution"


def is_worked(cell: Any) -> bool:
    """True for a cell tagged :data:`WORKED_TAG` (a worked derivation: source notebook and site only)."""
    return WORKED_TAG in (cell.get("metadata", {}).get("tags") or [])


def check_worked_cell(cell: Any, where: str = "a cell") -> None:
    """Raise :class:`CourseError` unless a worked cell is a folded markdown cell outside the gradebook."""
    if cell.get("cell_type") != "markdown":
        raise CourseError(f"{where} is tagged {WORKED_TAG!r} but is a {cell.get('cell_type')} cell: "
                          "a worked derivation is a markdown cell")
    if cell.get("metadata", {}).get("nbgrader"):
        raise CourseError(f"{where} is tagged {WORKED_TAG!r} but has nbgrader metadata: remove it (a worked "
                          "derivation is left out of the release, so it must not be a gradebook cell)")
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    if not source.lstrip().startswith("<details>"):
        raise CourseError(f"{where} is tagged {WORKED_TAG!r} but is not folded: start it with <details> and "
                          "a <summary> line, so a reader opens it after trying")


class RemoveWorkedSolutions(NbGraderPreprocessor):
    """nbgrader release preprocessor: drop every cell tagged :data:`WORKED_TAG` from the student version."""

    def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
        """Remove the worked cells (after checking each is one: a mis-tagged cell stops the release)."""
        kept = []
        for index, cell in enumerate(nb.cells):
            if is_worked(cell):
                check_worked_cell(cell, f"cell {index + 1}")
            else:
                kept.append(cell)
        nb.cells = kept
        return nb, resources


def release_preprocessors() -> list[str]:
    """nbgrader's ``GenerateAssignment.preprocessors``, with :class:`RemoveWorkedSolutions` first."""
    defaults = GenerateAssignment.class_traits()["preprocessors"].default()
    names = [f"{cls.__module__}.{cls.__name__}" for cls in defaults]
    return [f"{RemoveWorkedSolutions.__module__}.{RemoveWorkedSolutions.__name__}", *names]
