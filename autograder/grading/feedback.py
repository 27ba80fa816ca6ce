"""Feedback for students without the hidden tests.

nbgrader copies the autograded notebook, hidden tests included, into the feedback HTML (nbgrader issues
#917, #1363). :class:`HideHiddenTests` runs inside ``generate_feedback`` (see
:func:`autograder.coursedir.course.nbgrader_config`): it removes every ``### BEGIN HIDDEN TESTS`` region from the
test cells and shortens each error in a test cell to its message — the checker's explanation of what is
wrong — because a traceback quotes the hidden test's source lines.
"""

from __future__ import annotations

from typing import Any

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from autograder.notebook.cells import BEGIN_HIDDEN, MarkerError, has_hidden_tests, is_graded, strip_hidden_tests
from autograder.notebook.reading import NOT_ANSWERED

__all__ = ["HIDDEN_NOTE", "NOT_ANSWERED", "HideHiddenTests", "strip_hidden"]

HIDDEN_NOTE = "# (hidden tests ran here; they check your answer at other points)"


def strip_hidden(source: str) -> tuple[str, bool]:
    """``source`` without its hidden-test regions (a one-line note in their place), and whether it had any."""
    if not has_hidden_tests(source):
        return source, False
    try:
        return strip_hidden_tests(source, HIDDEN_NOTE), True
    except MarkerError:  # a begin marker without its end (a student's cell may hold anything): hide the rest
        return source[: source.index(BEGIN_HIDDEN)] + HIDDEN_NOTE, True


class HideHiddenTests(Preprocessor):
    """Remove hidden tests and tracebacks from graded cells before feedback is rendered."""

    enabled = Bool(True, help="on by default: nbconvert skips a preprocessor that is not enabled").tag(config=True)

    def preprocess_cell(self, cell: Any, resources: dict, index: int) -> tuple[Any, dict]:
        if cell.get("cell_type") != "code" or not (is_graded(cell) or has_hidden_tests(cell.get("source", ""))):
            return cell, resources
        cell.source, _ = strip_hidden(cell.source)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                if out.get("ename") == "NotImplementedError":
                    out["evalue"] = NOT_ANSWERED
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        return cell, resources
