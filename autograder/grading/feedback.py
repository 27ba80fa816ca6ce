"""Feedback for students: every word of it comes from the grader, never from the student's kernel.

nbgrader copies the autograded notebook, hidden tests and all outputs included, into the feedback HTML
(nbgrader issues #917, #1363). But the autograded notebook's outputs were written by the student's kernel,
after it had run the hidden tests: an answer cell can register an IPython hook that prints each test
cell's source (``info.raw_cell``), a function can print its arguments (the hidden test points), raise them
in an exception, put them in a widget, update an earlier cell's display, or emit HTML and JavaScript. So
:class:`HideHiddenTests` (run inside ``generate_feedback``, see :func:`autograder.coursedir.course.nbgrader_config`)
rebuilds what a student sees:

* **test cells**: the source without its ``### BEGIN HIDDEN TESTS`` regions, and one output the grader
  wrote (:func:`verdict_text`): the message of the cell's *visible* checks as the grader's own re-run gave it
  (:func:`autograder.isolation.session.visible_messages`, run before anything ran a hidden test), and for the
  hidden part only a verdict, never its code, inputs, expected values or messages;
* **answer cells**: no kernel output; a note the grader computes from the cell's source (a syntax error,
  or "not answered yet");
* **every other code cell**: no output, except the grader's own note on a cell it did not run;
* markdown is sanitised (``HTMLExporter.sanitize_html``); raw cells, attachments, widget state and all
  metadata but nbgrader's are dropped, and cell ids replaced, so nothing a student wrote becomes markup.

The student still has every output in their own notebook; the feedback is the grader's word only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets import Bool, Unicode

from autograder.isolation.sandbox import SKIPPED_NOTE, skipped_cells
from autograder.notebook.cells import (
    BEGIN_HIDDEN,
    CODE_STUB,
    MarkerError,
    has_hidden_tests,
    is_answer,
    is_graded,
    is_test,
    meta,
    strip_hidden_tests,
)
from autograder.notebook.dependencies import strip_magics
from autograder.notebook.reading import NOT_ANSWERED
from autograder.untrusted import for_terminal, printable

__all__ = ["HIDDEN_NOTE", "NOT_ANSWERED", "HideHiddenTests", "answer_note", "safe_markdown", "strip_hidden",
           "verdict_text"]

HIDDEN_NOTE = "# (hidden tests ran here; they check your answer at other points)"
MAX_MESSAGE = 3000  # characters of a visible check's message shown


def strip_hidden(source: str) -> tuple[str, bool]:
    """``source`` without its hidden-test regions (a one-line note in their place), and whether it had any."""
    if not has_hidden_tests(source):
        return source, False
    try:
        return strip_hidden_tests(source, HIDDEN_NOTE), True
    except MarkerError:  # a begin marker without its end (a student's cell may hold anything): hide the rest
        return source[: source.index(BEGIN_HIDDEN)] + HIDDEN_NOTE, True


def _short(text: str) -> str:
    text = for_terminal(text, keep_newlines=True)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + " …"


def verdict_text(score: float, max_score: float, visible: dict | None, verified: dict | None,
                 rechecked: bool) -> str:
    """The one output a test cell shows in feedback, from the grader's own results only.

    ``visible`` is the re-run of the cell's visible checks (``{"score", "message"}``, or None), ``verified``
    the full re-check's verdict (``{"score", "message", "unverifiable"}``, or None); ``rechecked`` False
    when the course was graded without the re-check (then only the score is known).
    """
    points = f"({score:g}/{max_score:g} points)"
    if not rechecked:
        return (f"{'✓ passed' if score >= max_score else '✗ failed'} {points}. Details are not shown (graded "
                "without the grader's re-check): run this cell in your notebook to see its message.\n")
    if verified and verified.get("unverifiable"):
        return f"? {points} this test could not be checked automatically; your instructor will review it.\n"
    if score >= max_score:
        return f"✓ passed {points}: the checks shown here and the hidden tests.\n"
    message = (visible or {}).get("message") or ""
    if message:
        if message.startswith("NotImplementedError"):
            message = f"NotImplementedError: {NOT_ANSWERED}"
        return f"✗ failed {points}\n{_short(message)}\n"
    if verified is not None and float(verified.get("score", 0)) < max_score:
        if visible is None:
            return f"✗ failed {points}. Run this cell in your notebook to see its message.\n"
        return (f"✗ failed {points}: the checks shown here passed, but the hidden tests failed: your answer is "
                "wrong for other inputs than these (the hidden tests' inputs and messages are not shown). Try "
                "your function at other values, and compare it with the notes.\n")
    return (f"✗ failed {points}: this cell failed when your notebook ran (an error, or any output on stderr "
            "such as a warning, scores 0), although your functions pass the grader's checks. Restart the "
            "kernel, run the notebook from the top and read this cell's output.\n")


def answer_note(source: str) -> str:
    """What the grader says under an answer cell: a syntax error, "not answered yet", or nothing."""
    try:
        compile(strip_magics(source), "<answer cell>", "exec")
    except SyntaxError as exc:
        return _short(f"{type(exc).__name__}: {exc.msg} (line {exc.lineno})") + "\n"
    except (ValueError, MemoryError, RecursionError):  # null bytes, absurd nesting
        return "this cell cannot be read as Python\n"
    if "raise NotImplementedError" in source and CODE_STUB.splitlines()[-1].strip() in source:
        return f"NotImplementedError: {NOT_ANSWERED}\n"
    return ""


_SAFE_URL = re.compile(r"(?i)(https?://|mailto:|#)|[^:]*$")  # http(s), mailto, an anchor, or relative


def _safe_url(url: str) -> str:
    return url if _SAFE_URL.match(url) and not url.startswith("//") else "#link-removed-by-the-grader"


def safe_markdown(source: str) -> str:
    """A student's markdown with no way to become markup: raw HTML shown as text, only safe link targets.

    Needed beyond ``sanitize_html`` because nbgrader's feedback template renders markdown cells without
    nbconvert's sanitiser. A ``<`` that could start a tag, comment or autolink is escaped, character
    references are shown as typed (none can spell ``javascript:``), and a link or image whose target is not
    http(s), mailto, an anchor or a relative path points nowhere.
    """
    text = re.sub(r"&(?=#|[A-Za-z][A-Za-z0-9]*;)", "&amp;", printable(source))
    text = re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text)  # every tag start; ``a < b`` and ``x<0`` stay math
    text = re.sub(r"\]\(\s*([^\s)]*)", lambda m: "](" + _safe_url(m.group(1)), text)
    return re.sub(r"(?m)^(\s{0,3}\[[^\]]+\]:\s*)(\S+)", _safe_definition, text)


def _safe_definition(m: re.Match[str]) -> str:
    """A link reference definition ``[label]: target`` with a safe target; a replaced target goes on the
    label's line (at the start of a line nbconvert would read ``#link-removed...`` as a heading)."""
    label, target = m.group(1), m.group(2)
    safe = _safe_url(target)
    return m.group(0) if safe == target else f"{label.rstrip()} {safe}"


def _stream(text: str) -> list[NotebookNode]:
    return [NotebookNode(output_type="stream", name="stdout", text=text)] if text else []


class HideHiddenTests(Preprocessor):
    """Rebuild a feedback notebook from the grader's own results (see the module docstring)."""

    enabled = Bool(True, help="on by default: nbconvert skips a preprocessor that is not enabled").tag(config=True)
    verdicts = Unicode("", help="JSON file written by the grader: per notebook and test cell, the verdicts "
                                "to show (autograder.grading.worker)").tag(config=True)

    def _load(self, resources: dict) -> tuple[dict, bool]:
        if not self.verdicts or not Path(self.verdicts).exists():
            return {}, False
        data = json.loads(Path(self.verdicts).read_text())
        notebook = str((resources.get("nbgrader") or {}).get("notebook", ""))
        return data.get("notebooks", {}).get(notebook, {}), bool(data.get("rechecked"))

    def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
        self._cells, self._rechecked = self._load(resources)
        self._skipped = skipped_cells(nb)
        nb.metadata = NotebookNode(  # widget state, title and the rest are the student's: none is shown
            language_info=NotebookNode(name="python", pygments_lexer="ipython3"),
            kernelspec=NotebookNode(name="python3", display_name="Python 3", language="python"),
        )
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: Any, resources: dict, index: int) -> tuple[Any, dict]:
        nbgrader = meta(cell)
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", str(nbgrader.get("grade_id", ""))):
            nbgrader = {}  # nbgrader's feedback template writes grade_id into the page unescaped
        old_outputs = cell.get("outputs", [])
        cell.metadata = NotebookNode(nbgrader=NotebookNode(nbgrader)) if nbgrader else NotebookNode()
        if "id" in cell:
            cell.id = f"cell-{index}"
        cell.pop("attachments", None)
        cell.source = printable(cell.get("source", ""))
        if cell.cell_type == "raw":
            cell.cell_type, cell.source = "markdown", "*(a raw cell: not shown in feedback)*"
            return cell, resources
        if cell.cell_type == "markdown":
            cell.source = safe_markdown(cell.source)
            return cell, resources
        if cell.cell_type != "code":
            return cell, resources
        if is_graded(cell) or has_hidden_tests(cell.source):
            cell.source, _ = strip_hidden(cell.source)
        if is_test(cell):
            gid = str(nbgrader.get("grade_id", ""))
            entry = self._cells.get(gid, {})
            score = float(entry.get("score", nbgrader.get("score", 0) or 0))
            max_score = float(entry.get("max_score", nbgrader.get("points", 0) or 0))
            text = verdict_text(score, max_score, entry.get("visible"), entry.get("verified"),
                                self._rechecked and bool(entry))
            cell.outputs = _stream(text)
        elif is_answer(cell):
            cell.outputs = _stream(answer_note(cell.source))
        elif index in self._skipped and [o.get("text") for o in old_outputs] == [SKIPPED_NOTE]:
            cell.outputs = _stream(SKIPPED_NOTE)
        else:
            cell.outputs = []
        return cell, resources
