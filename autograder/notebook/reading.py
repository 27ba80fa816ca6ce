"""Reading a notebook as the grader does: whether a file can be graded at all, and what a cell's outputs say.

Both only read; they are shared by the grader (:mod:`autograder.grading.worker`) and the student's
``check`` (:mod:`autograder.student.check`), so a student sees the same words the grader writes.

nbformat is imported only when a notebook is read (importing it builds jsonschema's machinery, over a second
on a loaded machine), and a notebook is read as ``nbformat.reads`` does minus its validation, which only
logs: nbformat's reader and version converter, no jsonschema grammar.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.notebook.cells import grade_id, meta

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["NOT_ANSWERED", "cell_error_text", "drop_foreign_metadata", "read_notebook", "read_notebook_problem"]

NOT_ANSWERED = "not answered yet (the function still raises NotImplementedError())"


def read_notebook(path: Path) -> tuple[NotebookNode | None, str, list[str]]:
    """Read ``path`` however it was saved: ``(notebook as nbformat 4, problem, notes)``.

    Accepts what an honest student's editor may write: a byte-order mark, UTF-16 or UTF-32 (JSON's own
    encodings, detected as :func:`json.loads` does) and older nbformat versions (converted to 4). The
    notebook is None and ``problem`` says why when the file cannot be graded as a notebook; ``notes`` say
    what was converted.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror})", []
    notes: list[str] = []
    encoding = json.detect_encoding(raw)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        return None, "is not a text file (not a notebook)", []
    if encoding.replace("-", "").lower() not in ("utf8",):
        notes.append(f"saved as {encoding.upper().replace('-SIG', ' with a byte-order mark')}")
    text = text.removeprefix("\ufeff")
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, (f"is not valid JSON (line {getattr(exc, 'lineno', '?')}): the file is damaged or not a "
                      "notebook"), []
    if not isinstance(data, dict):
        return None, "is JSON but not a notebook (no list of cells)", []
    version = data.get("nbformat")
    old_layout = isinstance(version, int) and version < 4 and isinstance(data.get("worksheets"), list)
    if not isinstance(data.get("cells"), list) and not old_layout:
        return None, "is JSON but not a notebook (no list of cells)", []
    from nbformat import convert, reader

    try:  # nbformat.reads(text, as_version=4) without validate(), which would only log
        nb = convert(reader.reads(text), 4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises several kinds for malformed notebooks
        why = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        return None, f"is not a readable notebook ({why})", []
    if isinstance(version, int) and version < 4:
        notes.append(f"saved as nbformat {version} (converted to 4)")
    return nb, "", notes


def read_notebook_problem(path: Path) -> str:
    """Why ``path`` cannot be graded as a notebook, or '' if it can be read (see :func:`read_notebook`)."""
    return read_notebook(path)[1]


def drop_foreign_metadata(nb: Any, known_ids: set[str]) -> list[int]:
    """Remove nbgrader metadata that does not belong to this assignment; return the cells' 1-based numbers.

    A cell copied from another notebook keeps its nbgrader metadata in JupyterLab. nbgrader would drop its
    unknown ``grade_id`` and then fail on the rest (``KeyError`` in ``add_missing_task_cells``), giving a
    correct notebook 0. A cell whose ``grade_id`` is not one of ``known_ids`` (the source notebook's), has
    none, or repeats an earlier cell's, becomes an ordinary cell.
    """
    seen: set[str] = set()
    dropped = []
    for number, cell in enumerate(nb.get("cells", []), start=1):
        metadata = cell.get("metadata") or {}
        if "nbgrader" not in metadata:
            continue
        gid = grade_id(cell) if isinstance(metadata.get("nbgrader"), dict) else ""
        if gid and gid in known_ids and gid not in seen and meta(cell):
            seen.add(gid)
            continue
        del metadata["nbgrader"]
        dropped.append(number)
    return dropped


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
