"""Drive a notebook in JupyterLab from Playwright, through JupyterLab's own commands.

The server runs with ``--LabApp.expose_app_in_browser=True``, so ``window.jupyterapp`` is the JupyterLab
application: notebooks are opened with ``docmanager:open`` and run with ``notebook:run-all-cells`` (the
*Run → Run All Cells* menu item), and the cells' outputs are read from the notebook model as nbformat JSON.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

OPEN_JS = """async (path) => {
  const app = window.jupyterapp;
  const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  await panel.context.ready;
  await panel.sessionContext.ready;
  window.__testPanel = panel;
  return panel.id;
}"""

KERNEL_READY_JS = """() => {
  const kernel = window.__testPanel.sessionContext.session?.kernel;
  return !!kernel && kernel.status === 'idle' && kernel.connectionStatus === 'connected';
}"""

RUN_ALL_JS = """async () => {
  const app = window.jupyterapp;
  app.shell.activateById(window.__testPanel.id);
  await app.commands.execute('notebook:run-all-cells');
}"""

RUN_CELL_JS = """async (index) => {
  const app = window.jupyterapp;
  const panel = window.__testPanel;
  app.shell.activateById(panel.id);
  panel.content.activeCellIndex = index;
  await app.commands.execute('notebook:run-cell');
}"""

IDLE_JS = """() => {
  const panel = window.__testPanel;
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel || kernel.status !== 'idle') return false;
  return ![...panel.node.querySelectorAll('.jp-InputArea-prompt')].some(e => e.textContent.includes('*'));
}"""

STATE_JS = """() => {
  const cells = window.__testPanel.content.model.cells;
  const out = [];
  for (let i = 0; i < cells.length; i++) {
    const j = cells.get(i).toJSON();
    out.push({
      index: i, type: j.cell_type, count: j.execution_count ?? null,
      source: Array.isArray(j.source) ? j.source.join('') : j.source,
      outputs: (j.outputs || []).map(o => ({type: o.output_type, name: o.name || null, ename: o.ename || null,
                                            evalue: o.evalue || null, mimes: Object.keys(o.data || {})})),
    });
  }
  return out;
}"""

CLOSE_JS = """async () => {
  const panel = window.__testPanel;
  if (!panel || panel.isDisposed) return;
  await panel.sessionContext.shutdown();
  panel.context.model.dirty = false;
  panel.dispose();
}"""

IMAGES_JS = """(root) => [...root.querySelectorAll('img')].map(img => ({
  cls: img.className, loaded: img.complete && img.naturalWidth > 0, width: img.naturalWidth, src: img.src.slice(0, 40),
}))"""


@dataclass
class Cell:
    """One cell of the notebook model after a run."""

    index: int
    type: str
    count: int | None
    source: str
    outputs: list[dict[str, Any]]

    def errors(self) -> list[dict[str, Any]]:
        return [o for o in self.outputs if o["type"] == "error"]

    def stderr(self) -> list[dict[str, Any]]:
        return [o for o in self.outputs if o["type"] == "stream" and o["name"] == "stderr"]

    def figures(self) -> int:
        return sum(1 for o in self.outputs if "image/png" in o["mimes"])

    def widget_views(self) -> int:
        return sum(1 for o in self.outputs if "application/vnd.jupyter.widget-view+json" in o["mimes"])


class LabNotebook:
    """A notebook open in JupyterLab in ``page`` (one at a time)."""

    def __init__(self, page: Any, path: str) -> None:
        self.page = page
        self.path = path
        self.panel_id: str = page.evaluate(OPEN_JS, path)
        page.wait_for_function(KERNEL_READY_JS, timeout=60_000)

    @property
    def panel(self) -> Any:
        """The notebook panel's element."""
        return self.page.locator(f"[id='{self.panel_id}']")

    def cell(self, index: int) -> Any:
        """The element of cell ``index`` (every cell is in the page: windowing is off in the tests)."""
        return self.panel.locator(".jp-Notebook .jp-Cell").nth(index)

    def cells(self) -> list[Cell]:
        """The cells of the notebook model, with their outputs."""
        return [Cell(**c) for c in self.page.evaluate(STATE_JS)]

    def wait_idle(self, timeout: float = 120_000) -> None:
        self.page.wait_for_function(IDLE_JS, timeout=timeout, polling=200)

    def run_all(self, continue_past_errors: bool = False) -> list[Cell]:
        """Run → Run All Cells; wait until the kernel is idle; return the cells.

        JupyterLab stops a run at the first error (the kernel aborts the cells queued behind it). With
        ``continue_past_errors`` every code cell that did not run is then run on its own, in order, each
        after the previous one finished (*Run → Run Selected Cell*): a release notebook's unanswered stubs
        raise ``NotImplementedError``, and the later cells must still work.
        """
        self.page.evaluate(RUN_ALL_JS)
        self.wait_idle()
        cells = self.cells()
        if continue_past_errors and any(c.errors() for c in cells):
            for c in cells:
                if c.type == "code" and c.count is None and c.source.strip():
                    self.page.evaluate(RUN_CELL_JS, c.index)
                    self.wait_idle()
            cells = self.cells()
        return cells

    def images(self, root: Any | None = None, wait_ms: float = 15_000) -> list[dict[str, Any]]:
        """Every ``img`` under ``root`` (default: the notebook): class, loaded?, natural width.

        Waits up to ``wait_ms`` for them all to finish loading; the caller checks the result.
        """
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

        element = root or self.panel
        with contextlib.suppress(PlaywrightTimeoutError):
            self.page.wait_for_function("(el) => [...el.querySelectorAll('img')].every(i => i.complete)",
                                        arg=element.element_handle(), timeout=wait_ms)
        return element.evaluate(IMAGES_JS)

    def close(self) -> None:
        """Shut the kernel down and close the notebook without saving."""
        self.page.evaluate(CLOSE_JS)


def open_lab(page: Any, lab_url: str, collapse_left: bool = True) -> None:
    """Load JupyterLab in ``page`` with a fresh workspace (``?reset``: no notebook of an earlier test is
    reopened) and wait until it has restored its layout; the file browser is folded away by default."""
    page.goto(lab_url.replace("/lab?", "/lab?reset&", 1))
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=90_000)
    page.evaluate("async () => { await window.jupyterapp.restored; }")
    if collapse_left:
        page.evaluate("() => window.jupyterapp.shell.collapseLeft()")


def scroll_to_top(locator: Any) -> None:
    """Scroll the notebook so that ``locator``'s element starts at the top of the view."""
    locator.evaluate("(el) => el.scrollIntoView({block: 'start'})")
