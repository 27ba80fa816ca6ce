"""Reading a notebook as the grader does: whether a file can be graded at all, and what a cell's outputs say.

Both only read; they are shared by the grader (:mod:`autograder.grading.worker`) and the student's
``check`` (:mod:`autograder.student.check`), so a student sees the same words the grader writes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

__all__ = ["NOT_ANSWERED", "cell_error_text", "read_notebook_problem"]

NOT_ANSWERED = "not answered yet (the function still raises NotImplementedError())"


def read_notebook_problem(path: Path) -> str:
    """Why ``path`` cannot be graded as a notebook, or '' if it can be read."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return "is not a text file (not a notebook)"
    except ValueError as exc:
        return f"is not valid JSON (line {getattr(exc, 'lineno', '?')}): the file is damaged or not a notebook"
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return "is JSON but not a notebook (no list of cells)"
    try:
        nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception as exc:  # nbformat raises several kinds for malformed notebooks
        return f"is not a readable notebook ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})"
    return ""


def cell_error_text(cell: dict) -> str:
    """The first error (or stderr output) a cell showed, as one message; "" if none."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            ename, evalue = out.get("ename", "Error"), str(out.get("evalue", ""))
            timed_out = ename in ("CellTimeoutError", "KeyboardInterrupt")  # the grader interrupts on timeout
            if timed_out or "CellTimeoutError" in "".join(out.get("traceback", [])):
                return "timed out: the cell did not finish in time (an infinite loop?)"
            if ename == "NotImplementedError":
                return f"NotImplementedError: {NOT_ANSWERED}"
            evalue = re.sub(r"\(\d+\.py, line (\d+)\)", r"(line \1)", evalue)  # ipykernel's temp file name
            return f"{ename}: {evalue}".strip()
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            return "wrote to stderr (a warning or error message), which nbgrader scores as 0: " + "".join(
                out.get("text", "")
            ).strip()[:300]
    return ""
