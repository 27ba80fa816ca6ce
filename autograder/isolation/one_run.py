"""nbgrader's autograde with the submission's code run once, and every test cell judged outside it.

:class:`OneRun` takes the place of nbgrader's ``Execute`` preprocessor (:data:`ONE_RUN_PREPROCESSORS`): it
runs the notebook nbgrader restored through :func:`autograder.isolation.session.run_session`, then writes
the outputs nbgrader's own ``SaveAutoGrades`` reads: each test cell gets an ``error`` output when the
grader's verdict failed it (score 0), nothing on stderr, and an ``execute_result`` only for partial credit
the *source's* test code returned in the grader. So the gradebook, Formgrader, feedback and late
penalties work as with nbgrader's execution, and no output of the student's process decides a score. The
student's own cells get the outputs their run showed (text and images only, within a budget), for the
instructor's copy in ``autograded/``. The session's verdicts are saved as JSON in ``results_dir``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float, Integer, List, Unicode

from autograder.isolation.sandbox import AUTOGRADE_PREPROCESSORS, SKIPPED_NOTE
from autograder.isolation.session import Session, run_session
from autograder.notebook.cells import grade_id, is_test

__all__ = ["ONE_RUN_PREPROCESSORS", "OneRun", "load_results"]

ONE_RUN_PREPROCESSORS = ["autograder.isolation.one_run.OneRun" if p.endswith("CappedExecute") else p
                         for p in AUTOGRADE_PREPROCESSORS]
_MIME = ("text/plain", "text/html", "text/markdown", "text/latex", "image/png", "image/jpeg", "image/svg+xml")


TRUNCATED = "\n[output truncated by the grader]\n"


def _text(value: Any, limit: int) -> str:
    """``value`` if it is text within ``limit`` characters; longer text is cut, with a note that says so."""
    if not isinstance(value, str):
        return ""
    return value if len(value) <= limit else value[:max(limit - len(TRUNCATED), 0)] + TRUNCATED


def _clean(out: Any, limit: int) -> NotebookNode | None:
    """One output the student's process sent, rebuilt from checked fields (None if it is not one)."""
    if not isinstance(out, dict):
        return None
    kind = out.get("output_type")
    if kind == "stream" and out.get("name") in ("stdout", "stderr"):
        return NotebookNode(output_type="stream", name=out["name"], text=_text(out.get("text"), limit))
    if kind in ("display_data", "execute_result") and isinstance(out.get("data"), dict):
        data = {k: _text(v, limit) for k, v in out["data"].items() if k in _MIME and isinstance(v, str)}
        if not data:
            return None
        node = NotebookNode(output_type=kind, data=NotebookNode(data), metadata=NotebookNode())
        if kind == "execute_result":
            count = out.get("execution_count")
            node.execution_count = count if isinstance(count, int) and not isinstance(count, bool) else None
        return node
    if kind == "error":
        name = _text(out.get("ename"), 200) or "Error"
        return NotebookNode(output_type="error", ename=name, evalue=_text(out.get("evalue"), 2000),
                            traceback=[_text(t, 2000) for t in (out.get("traceback") or [])[:5]])
    return None


def _test_outputs(verdict: Any, printed: str) -> list[NotebookNode]:
    """What a test cell shows in the instructor's copy; nbgrader scores it exactly as the verdict says."""
    outs = [NotebookNode(output_type="stream", name="stdout", text=printed[:10_000])] if printed else []
    if verdict.score <= 0 < verdict.max_score:
        name, _, text = verdict.message.partition(": ")
        if not name.isidentifier():
            name, text = "AssertionError", verdict.message
        outs.append(NotebookNode(output_type="error", ename=name, evalue=text, traceback=[verdict.message]))
    elif verdict.score < verdict.max_score:
        outs.append(NotebookNode(output_type="execute_result", execution_count=None, metadata=NotebookNode(),
                                 data=NotebookNode({"text/plain": repr(float(verdict.score))})))
    return outs


class OneRun(NbGraderPreprocessor):
    """Run the notebook once in the student host and judge its test cells in the grader (module docstring)."""

    source_dir = Unicode("", help="The course's source/ folder (the trusted test cells)").tag(config=True)
    results_dir = Unicode("", help="Where each notebook's verdicts are saved as <notebook>.json").tag(config=True)
    host_command = List(Unicode(), help="The command that starts the (sandboxed) student host").tag(config=True)
    timeout = Float(30.0, help="Seconds per cell and per call of a student function").tag(config=True)
    max_cell_output_bytes = Integer(1 * 2**20, help="Output characters kept per cell").tag(config=True)
    max_notebook_output_bytes = Integer(8 * 2**20, help="Output characters kept per notebook").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources.get("nbgrader") or {}
        name, assignment = str(info.get("notebook", "")), str(info.get("assignment", ""))
        source = Path(self.source_dir) / assignment / f"{name}.ipynb"
        session = run_session(source, nb, list(self.host_command) or None, None, self.timeout)
        self._fill(nb, session)
        if self.results_dir:
            path = Path(self.results_dir) / f"{name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({
                "visible": {g: asdict(v) for g, v in session.visible.items()},
                "verdicts": {g: asdict(v) for g, v in session.verdicts.items()},
                "problem": session.problem,
                "seconds": session.seconds,
            }))
        return nb, resources

    def _fill(self, nb: NotebookNode, session: Session) -> None:
        left = self.max_notebook_output_bytes
        seen: set[str] = set()
        for index, cell in enumerate(nb.cells):
            if cell.get("cell_type") != "code":
                continue
            cell.execution_count = None
            gid = grade_id(cell)
            if is_test(cell):
                verdict = session.verdicts.get(gid) if gid not in seen else None
                seen.add(gid)
                cell.outputs = _test_outputs(verdict, session.printed.get(gid, "")) if verdict else [
                    NotebookNode(output_type="error", ename="NotChecked", evalue="a repeated test cell",
                                 traceback=[])]
                continue
            if index in session.skipped:
                cell.outputs = [NotebookNode(output_type="stream", name="stdout", text=SKIPPED_NOTE)]
                continue
            outs = []
            for raw in session.outputs.get(index) or []:
                out = _clean(raw, max(min(self.max_cell_output_bytes, left), 0))
                if out is not None:
                    left -= len(json.dumps(out))
                    outs.append(out)
            cell.outputs = outs


def load_results(results_dir: Path, notebook: str) -> dict:
    """The verdicts :class:`OneRun` saved for ``notebook`` ({} if it did not run)."""
    path = Path(results_dir) / f"{notebook}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
