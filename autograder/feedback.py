"""Feedback for students without the hidden tests.

nbgrader copies the autograded notebook, hidden tests included, into the feedback HTML (nbgrader issues
#917, #1363). :class:`HideHiddenTests` runs inside ``generate_feedback`` (see
:func:`autograder.course.nbgrader_config`): it removes every ``### BEGIN HIDDEN TESTS`` region from the
test cells and shortens each error in a test cell to its message — the checker's explanation of what is
wrong — because a traceback quotes the hidden test's source lines.
"""

from __future__ import annotations

from typing import Any

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

__all__ = ["HIDDEN_NOTE", "NOT_ANSWERED", "HideHiddenTests", "strip_hidden"]

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
HIDDEN_NOTE = "# (hidden tests ran here; they check your answer at other points)"
NOT_ANSWERED = "not answered yet (the function still raises NotImplementedError())"


def strip_hidden(source: str) -> tuple[str, bool]:
    """``source`` without its hidden-test regions (a one-line note in their place), and whether it had any."""
    out, hidden, found = [], False, False
    for line in source.split("\n"):
        if BEGIN in line:
            hidden = found = True
            out.append(line[: line.index(BEGIN)] + HIDDEN_NOTE)
        elif END in line:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out), found


class HideHiddenTests(Preprocessor):
    """Remove hidden tests and tracebacks from graded cells before feedback is rendered."""

    enabled = Bool(True, help="on by default: nbconvert skips a preprocessor that is not enabled").tag(config=True)

    def preprocess_cell(self, cell: Any, resources: dict, index: int) -> tuple[Any, dict]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "code" or not (meta.get("grade") or BEGIN in cell.get("source", "")):
            return cell, resources
        cell.source, _ = strip_hidden(cell.source)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                if out.get("ename") == "NotImplementedError":
                    out["evalue"] = NOT_ANSWERED
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        return cell, resources
