"""nbgrader's ``Execute`` with output budgets, and the locked cells grading can skip.

:class:`CappedExecute` runs a notebook the way nbgrader does (``--no-verify`` grading, and the in-kernel run
the benchmarks compare against), recording output only within a budget so a submission cannot flood the
instructor's copy; :func:`skipped_cells` names the locked cells no test or student cell depends on.
"""

from __future__ import annotations

from typing import Any

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer

from autograder.notebook.cells import meta
from autograder.notebook.dependencies import needed_cells

__all__ = ["SKIPPED_NOTE", "CappedExecute", "skipped_cells"]


def _size(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(len(k) + _size(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(_size(v) for v in value)
    return 8


def _shorten(text: Any, limit: int) -> Any:
    if isinstance(text, str) and len(text) > limit:
        return text[:limit] + f"... [{len(text) - limit} characters cut by the grader]"
    return text


SKIPPED_NOTE = "(not run by the grader: no test depends on this cell; run it in JupyterLab to see it)\n"


def skipped_cells(nb: NotebookNode) -> set[int]:
    """Indices of the locked cells that grading does not need (:func:`autograder.notebook.dependencies.needed_cells`).

    Test cells, answer cells and every cell a student can edit always run; a locked cell (restored from the
    source by nbgrader before execution) is skipped when no later cell that runs reads what it defines.
    """

    code = [(i, c) for i, c in enumerate(nb.cells) if c.get("cell_type") == "code"]

    def always(cell: NotebookNode) -> bool:
        m = meta(cell)
        return bool(m.get("grade") or m.get("solution") or not m.get("locked"))

    keep = needed_cells([(always(c), c.get("source", "")) for _, c in code])
    return {i for (i, _), k in zip(code, keep, strict=True) if not k}


class CappedExecute(Execute):
    """nbgrader's ``Execute`` that stops recording output past a budget (characters, per cell and per notebook).

    Past the budget, one stdout note says so and further output is dropped, except what decides a score:
    an ``error`` (shortened), the ``execute_result`` (its text/plain, shortened) and the first stderr stream
    (shortened) are still recorded, once each per cell, so truncation never turns a failed test into a pass.
    """

    max_cell_output_bytes = Integer(1 * 2**20, help="Output recorded per cell (characters)").tag(config=True)
    max_notebook_output_bytes = Integer(8 * 2**20, help="Output recorded per notebook").tag(config=True)
    kept_after_budget = Integer(2000, help="Characters kept of an error/result/stderr past the budget").tag(
        config=True
    )

    skip_unneeded = Bool(
        False, help="Skip locked cells no graded or student cell depends on (drawings, widgets)"
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> tuple[NotebookNode, Any]:
        """Run the notebook with fresh budgets (and, with ``skip_unneeded``, only the cells grading needs)."""
        self._notebook_bytes = 0
        self._cell_bytes: dict[int, int] = {}
        self._truncated: dict[int, set[str]] = {}
        self._skip = skipped_cells(nb) if self.skip_unneeded else set()
        for cell in nb.cells:  # nbclient skips cells tagged so: a student could tag a test cell and pass it
            tags = cell.get("metadata", {}).get("tags")
            if isinstance(tags, list) and self.skip_cells_with_tag in tags:
                cell.metadata.tags = [t for t in tags if t != self.skip_cells_with_tag]
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> tuple[NotebookNode, Any]:
        """Execute one cell with a fresh per-cell budget; a skipped cell gets a one-line note instead."""
        if index in getattr(self, "_skip", ()):
            cell.outputs = [NotebookNode(output_type="stream", name="stdout", text=SKIPPED_NOTE)]
            return cell, resources
        self._cell_bytes = getattr(self, "_cell_bytes", {})
        self._truncated = getattr(self, "_truncated", {})
        self._notebook_bytes = getattr(self, "_notebook_bytes", 0)
        self._cell_bytes[index] = 0
        self._truncated.pop(index, None)
        return super().preprocess_cell(cell, resources, index)

    def _room(self, cell_index: int) -> int:
        cell_used = self._cell_bytes.get(cell_index, 0)
        return min(self.max_cell_output_bytes - cell_used, self.max_notebook_output_bytes - self._notebook_bytes)

    def output(
        self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        """Record an output only while within budget (see the class docstring)."""
        if not hasattr(self, "_cell_bytes"):
            self._cell_bytes, self._truncated, self._notebook_bytes = {}, {}, 0
        content = msg.get("content", {})
        kind = msg["msg_type"] + (f":{content.get('name')}" if msg["msg_type"] == "stream" else "")
        size = _size(content)
        room = self._room(cell_index)
        kept = self._truncated.get(cell_index)
        if kept is None and size <= room:
            self._cell_bytes[cell_index] = self._cell_bytes.get(cell_index, 0) + size
            self._notebook_bytes += size
            return super().output(outs, msg, display_id, cell_index)

        if kept is None:  # the budget runs out in this message: keep what fits of a stream, then a note
            kept = self._truncated[cell_index] = set()
            cell_room = self.max_cell_output_bytes - self._cell_bytes.get(cell_index, 0)
            budget = self.max_cell_output_bytes if cell_room <= room else self.max_notebook_output_bytes
            head = None
            if msg["msg_type"] == "stream" and room > 0:
                head = {**msg, "content": {**content, "text": content.get("text", "")[:room]}}
                super().output(outs, head, display_id, cell_index)
                kept.add(kind)
            self._notebook_bytes += max(room, 0)
            self._cell_bytes[cell_index] = self.max_cell_output_bytes
            note = f"\n[output truncated by the grader after {budget / 2**20:g} MB]\n"
            outs.append(NotebookNode(output_type="stream", name="stdout", text=note))
            if head is not None:
                return None
        if kind not in ("error", "execute_result", "stream:stderr") or kind in kept:
            return None
        kept.add(kind)  # what decides a score is always recorded, shortened
        c, limit = dict(content), self.kept_after_budget  # new values below: the message is not modified
        short = {**{k: v for k, v in msg.items() if k != "buffers"}, "content": c}
        if kind == "error":
            c["evalue"] = _shorten(c.get("evalue", ""), limit)
            tb = [_shorten(line, limit) for line in c.get("traceback", [])]
            c["traceback"] = tb[:10] + ["..."] + tb[-10:] if len(tb) > 20 else tb
        elif kind == "execute_result":
            c["data"] = {"text/plain": _shorten(c.get("data", {}).get("text/plain", ""), limit)}
            c["metadata"] = {}
        else:
            c["text"] = _shorten(c.get("text", ""), limit)
        return super().output(outs, short, display_id, cell_index)

    def _update_display_id(self, display_id: str, msg: dict[str, Any]) -> None:
        """Apply a display update only if it fits the notebook's remaining budget."""
        size = _size(msg.get("content", {}))
        used = getattr(self, "_notebook_bytes", 0)
        if used + size > self.max_notebook_output_bytes:
            return
        self._notebook_bytes = used + size
        super()._update_display_id(display_id, msg)
