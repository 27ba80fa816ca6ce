"""Every notebook, release and solution, run in JupyterLab in a real browser (Debian's Chromium).

JupyterLab is the student set-up (``backprop-course lab``) on a folder with the release notebooks
(``backprop-course release``) and the source notebooks with their solutions. For each notebook: open it,
Run All Cells, then check that

* every code cell ran, and no cell shows an error or stderr output, except, in a release notebook,
  the ``NotImplementedError`` of the unanswered stubs (and of the cells that call them);
* every figure of the run is in the page as a loaded image;
* every widget rendered and responds: a slider moved with the keyboard redraws its graph and trace, the
  stepper's *Next* button reveals the next gradient, choosing another weight lists its paths;
* no request left 127.0.0.1.

A screenshot per notebook goes to ``test-artifacts/browser/lab-<release|solution>-<assignment>.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import NOTEBOOKS, LabServer, OutsideGuard, guarded_context
from lab_driver import LabNotebook, open_lab, scroll_to_top

pytestmark = pytest.mark.browser

ASSIGNMENTS = sorted(p.name for p in NOTEBOOKS.iterdir() if p.is_dir() and list(p.glob("*.ipynb")))
WIDGET_CALLS = {"slider": "slider_explorer(", "stepper": "backward_stepper(", "chooser": "path_chooser(",
                "gate": "gate_explorer("}
CASES = [(kind, a) for a in ASSIGNMENTS for kind in ("solution", "release")]


def _notebook_path(kind: str, assignment: str) -> str:
    (name,) = [p.name for p in (NOTEBOOKS / assignment).glob("*.ipynb")]
    return f"{'solutions' if kind == 'solution' else 'release'}/{assignment}/{name}"


def _widget_kinds(source: str) -> list[str]:
    return [kind for kind, call in WIDGET_CALLS.items() if call in source]


def test_the_notebooks_use_every_kind_of_widget() -> None:
    """The widget checks below are not vacuous: the course's notebooks show every kind of widget."""
    kinds = set()
    for assignment in ASSIGNMENTS:
        for path in (NOTEBOOKS / assignment).glob("*.ipynb"):
            kinds.update(_widget_kinds(path.read_text()))
    assert kinds == set(WIDGET_CALLS), kinds


# -------------------------------------------------------------------------------------------- widgets
def _snapshot(out: Any) -> dict[str, Any]:
    """The visible state of a widget output: its text, picture and labels."""
    return out.evaluate("""(el) => ({
        text: [...el.querySelectorAll('.widget-html-content')].map(e => e.innerText).join('\\n'),
        images: [...el.querySelectorAll('img.widget-image')].map(i => i.src),
        loaded: [...el.querySelectorAll('img.widget-image')].every(i => i.complete && i.naturalWidth > 0),
        labels: [...el.querySelectorAll('.widget-label, .widget-readout')].map(e => e.innerText),
    })""")


def _wait_changed(page: Any, out: Any, before: dict[str, Any], what: str, expect: str = "") -> dict[str, Any]:
    """Wait until the widget's text and picture differ from ``before`` (and the text contains ``expect``)."""
    handle = out.element_handle()
    page.wait_for_function(
        """([el, text, images, expect]) => {
            const now = [...el.querySelectorAll('.widget-html-content')].map(e => e.innerText).join('\\n');
            const imgs = [...el.querySelectorAll('img.widget-image')];
            return now !== text && now.includes(expect) && imgs.map(i => i.src).join() !== images.join()
                   && imgs.every(i => i.complete && i.naturalWidth > 0);
        }""",
        arg=[handle, before["text"], before["images"], expect], timeout=30_000, polling=100,
    )
    after = _snapshot(out)
    assert after["text"] != before["text"] and after["images"] != before["images"], f"{what}: nothing changed"
    return after


def _drive_slider(page: Any, out: Any) -> str:
    before = _snapshot(out)
    readout = out.locator(".widget-readout").first
    value_before = readout.inner_text()
    handle = out.locator(".noUi-handle").first
    handle.focus()
    for _ in range(10):
        handle.press("ArrowRight")
    page.wait_for_timeout(200)
    value_after = readout.inner_text()
    assert float(value_after) > float(value_before), (value_before, value_after)
    name = out.locator(".widget-slider .widget-label").first.inner_text()
    after = _wait_changed(page, out, before, "slider", expect=f"{name} = {value_after}")
    first_line = after["text"].splitlines()[0]
    assert f"{name} = {value_after}" in first_line, f"the trace does not show {name} = {value_after}: {first_line}"
    return f"slider {value_before} → {value_after}"


def _drive_stepper(page: Any, out: Any) -> str:
    before = _snapshot(out)
    assert re.search(r"Step 0 of \d+", before["text"]), before["text"][:200]
    out.get_by_role("button", name="Next ▶").click()
    after = _wait_changed(page, out, before, "stepper", expect="Step 1 of")
    assert re.search(r"Step 1 of \d+", after["text"]), after["text"][:200]
    assert any(re.fullmatch(r"Step 1 of \d+", label) for label in after["labels"]), after["labels"]
    return "stepper step 0 → 1"


def _drive_chooser(page: Any, out: Any) -> str:
    before = _snapshot(out)
    select = out.locator("select").first
    options = select.locator("option").all_inner_texts()
    current = select.input_value()
    # prefer a first-layer weight: it reaches the loss along several paths
    target = next((o for o in options if o != current and o.startswith("w_1")), None) or next(
        o for o in options if o != current)
    select.select_option(label=target)
    after = _wait_changed(page, out, before, "path chooser", expect=f"from {target} to")
    assert f"from {target} to" in after["text"], after["text"][:300]
    return f"weight {current} → {target}"


def _drive_gate(page: Any, out: Any) -> str:
    before = _snapshot(out)
    select = out.locator("select").first
    current = select.input_value()
    target = next(o for o in select.locator("option").all_inner_texts() if o != current)
    select.select_option(label=target)
    page.wait_for_function(  # the gate explorer has no picture: wait for its text alone
        """([el, text, expect]) => {
            const now = [...el.querySelectorAll('.widget-html-content')].map(e => e.innerText).join('\\n');
            return now !== text && now.includes(expect);
        }""",
        arg=[out.element_handle(), before["text"], f"{target} gate"], timeout=30_000, polling=100,
    )
    after = _snapshot(out)
    assert "dL/da = upstream × dz/da" in after["text"], after["text"][:300]
    return f"gate {current} → {target}"


DRIVERS = {"slider": _drive_slider, "stepper": _drive_stepper, "chooser": _drive_chooser, "gate": _drive_gate}


# -------------------------------------------------------------------------------------------- the test
@pytest.fixture(scope="module")
def lab_page(browser: Any, student_lab: LabServer) -> Iterator[tuple[Any, OutsideGuard]]:
    """One JupyterLab page, loaded once, in which each test opens its notebook and closes it (kernel shut down):
    a load parses JupyterLab's whole bundle, seconds of CPU each time. The guard's records start with the
    load (checked by the first test) and are cleared after each test."""
    context, page, guard = guarded_context(browser)
    try:
        open_lab(page, student_lab.lab_url())
        yield page, guard
    finally:
        context.close()


@pytest.mark.parametrize(("kind", "assignment"), CASES, ids=[f"{k}-{a}" for k, a in CASES])
def test_notebook_runs_in_jupyterlab(
    lab_page: tuple[Any, OutsideGuard], artifacts: Path, kind: str, assignment: str
) -> None:
    page, guard = lab_page
    assert not page.evaluate("() => window.__testPanel && !window.__testPanel.isDisposed"), "a notebook is open"
    nb = LabNotebook(page, _notebook_path(kind, assignment))
    try:
        cells = nb.run_all(continue_past_errors=kind == "release")
        code = [c for c in cells if c.type == "code" and c.source.strip()]

        not_run = [c.index for c in code if c.count is None]
        assert not not_run, f"cells {not_run} did not run"

        errors = [(c.index, o["ename"], o["evalue"]) for c in code for o in c.errors()]
        if kind == "solution":
            assert not errors, f"errors in the solution notebook: {errors}"
        else:
            assert errors, "the release notebook has no unanswered stub: is it really the student version?"
            # an unanswered stub raises NotImplementedError; a check of an exercise that calls one says
            # NotJudgedYet ("fix Exercise N first"), never that the exercise itself is wrong
            other = [e for e in errors if e[1] not in ("NotImplementedError", "NotJudgedYet")]
            assert not other, f"errors other than the unanswered stubs: {other}"
            assert all("not written yet" in e[2] for e in errors if e[1] == "NotJudgedYet"), errors
        stderr = [c.index for c in code if c.stderr()]
        assert not stderr, f"cells {stderr} wrote to stderr"
        shown_errors = nb.panel.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
        assert shown_errors.count() == len(errors), "the page shows other error output than the model has"

        figures = sum(c.figures() for c in code)
        if kind == "solution" and any("display(fig)" in c.source for c in code):
            assert figures > 0, "the notebook draws figures but none came out"
        images = nb.images()
        rendered = [i for i in images if "widget-image" not in i["cls"]]
        assert len(rendered) == figures, f"{figures} figure(s) in the outputs, {len(rendered)} in the page"
        assert all(i["loaded"] for i in images), f"images that did not load: {[i for i in images if not i['loaded']]}"

        widget_cells = [(c, k) for c in code for k in _widget_kinds(c.source)]
        assert sum(c.widget_views() for c in code) == len(widget_cells)
        done, focus = [], None
        for c, widget_kind in widget_cells:
            out = nb.cell(c.index).locator(".jp-OutputArea-output:has(> .jupyter-widgets)").first
            out.wait_for(state="visible", timeout=30_000)
            assert _snapshot(out)["loaded"], f"cell {c.index}: the widget's picture did not load"
            done.append(DRIVERS[widget_kind](page, out))
            focus = out
        if focus is None:  # no widget: show the last figure, or else the first printed output
            figure = nb.panel.locator(".jp-RenderedImage img")
            printed = nb.panel.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stdout"]')
            focus = figure.last if figure.count() else printed.first
        scroll_to_top(focus)
        page.wait_for_timeout(300)
        page.screenshot(path=str(artifacts / f"lab-{kind}-{assignment}.png"))
        assert not guard.outside(), f"requests to other hosts: {guard.outside()}"
        assert not guard.failed, f"failed requests: {guard.failed}"
        print(f"{kind} {assignment}: {len(code)} code cells, {len(errors)} stub error(s), {figures} figure(s), "
              f"widgets: {done or 'none'}")
    finally:
        nb.close()
        guard.blocked.clear()
        guard.seen.clear()
        guard.failed.clear()
