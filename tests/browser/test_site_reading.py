"""The static site as a reader meets it: unbroken math in tables, finished widget snapshots shown once,
folded derivations, model answers and self-check helpers, and an axe-core accessibility check of every page.

Two sites are checked: the course's own (the session's ``built_site``, notebooks 00-05 as they are) and a
small fixture course made here, whose one notebook has every kind of cell the issue-16 conventions add (a
worked derivation tagged ``worked-solution``, a locked ``<details>`` model answer, a ``source_hidden``
``check-helpers`` cell, a table of inline math, a backward stepper whose text is printed under it, and a
path chooser under a figure of the same paths), so these tests do not wait for the notebooks to gain them.

axe-core is the npm package pinned by ``tests/browser/package.json`` (``make browser-deps`` installs it).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
from browser_support import NOTEBOOKS, OutsideGuard, missing, serve_folder

from autograder.reader.site import build_site, find_pages
from course_lib.models import exp_exp_chain, init_params, network_graph
from course_lib.widgets import backward_stepper, path_chooser

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
PAGES = find_pages(NOTEBOOKS)

# ------------------------------------------------------------------------------------------ the fixture
FIXTURE_NB = "fixture-course"
WORKED = ("<details>\n<summary>Worked derivation (open after you have tried)</summary>\n\n"
          "By the chain rule, $\\frac{\\partial L}{\\partial w} = \\frac{\\partial L}{\\partial y}\\,x$, so\n\n"
          "$$\\frac{\\partial L}{\\partial w} = 2\\,(y - t)\\,x = 2.5 .$$\n\n</details>")
MODEL_ANSWER = ("<details>\n<summary>Model answer (open after you have tried)</summary>\n\n"
                "The gradient of a shared weight is the **sum** over its paths: $\\sum_p \\prod_e \\partial$.\n\n"
                "</details>")
TABLE = ("## Local derivatives\n\n| node | local derivative | value |\n|---|---|---|\n"
         "| $y = w\\,x$ | $\\dfrac{\\partial y}{\\partial w} = x$ and $\\dfrac{\\partial y}{\\partial x} = w$ | 0.5 |\n"
         "| $L = (y - t)^2$ | $\\dfrac{\\partial L}{\\partial y} = 2\\,(y - t)$, "
         "$\\dfrac{\\mathrm{d}L}{\\mathrm{d}y} \\cdot \\dfrac{\\mathrm{d}y}{\\mathrm{d}w}$ | 1.25 |\n")
HELPER_LINE = "def check_fixture_answer(value):"


def _nbg(grade_id: str, **flags: Any) -> dict[str, Any]:
    meta = {"grade": False, "grade_id": grade_id, "locked": True, "schema_version": 3, "solution": False}
    meta.update(flags)
    return {"nbgrader": meta}


def fixture_notebook() -> Any:
    """A notebook with every kind of cell the site must fold, snapshot or keep on one line."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [
        md("# A fixture notebook\n\n**Estimated time:** 5 minutes\n\nIt exercises the static site.",
           metadata=_nbg("text-00")),
        code("import numpy as np\nfrom IPython.display import display", metadata=_nbg("setup")),
        md(TABLE, metadata=_nbg("text-01")),
        code(f"{HELPER_LINE}\n    assert abs(value - 2.5) < 1e-12, f'expected 2.5, got {{value}}'\n\n"
             "print('self-check helpers loaded')",
             metadata={**_nbg("check-helpers"), "jupyter": {"source_hidden": True}}),
        code("def answer():\n    ### BEGIN SOLUTION\n    return 2 * (1.25 - 0.0) * 1.0\n    ### END SOLUTION",
             metadata=_nbg("answer", locked=False, solution=True)),
        code("check_fixture_answer(answer())\nprint('ok')",
             metadata=_nbg("test-answer", grade=True, points=1)),
        md(WORKED, metadata={"tags": ["worked-solution"]}),
        md("### Your turn\n\nWhy do the paths' products add up?", metadata=_nbg("text-02")),
        md(MODEL_ANSWER, metadata=_nbg("text-03")),
        code("from course_lib.graph import Node\nfrom course_lib.models import exp_exp_chain\n"
             "from course_lib.widgets import backward_stepper\n\n"
             "stepper = backward_stepper(exp_exp_chain(0.8)['y'])\ndisplay(stepper)\nprint(stepper.state_text)",
             metadata=_nbg("stepper-demo")),
        code("from course_lib.drawing import draw_graph\nfrom course_lib.models import init_params, network_graph\n"
             "from course_lib.widgets import path_chooser\n\n"
             "graph = network_graph(init_params(seed=1), np.array([0.8, -0.5]), np.array([1.0, 0.0]))\n"
             "graph['L'].backward()\n"
             "fig = draw_graph(graph['L'], highlight_paths=graph['w_111'], title='The paths of w_111')\n"
             "display(fig)", metadata=_nbg("figure")),
        code("chooser = path_chooser(network_graph(init_params(seed=1), np.array([0.8, -0.5]), "
             "np.array([1.0, 0.0])))\ndisplay(chooser)\nprint(chooser.state_text)",
             metadata=_nbg("chooser-demo")),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.fixture(scope="module")
def fixture_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site of a one-notebook course made of :func:`fixture_notebook`."""
    root = tmp_path_factory.mktemp("fixture-site")
    folder = root / "notebooks" / "01-fixture"
    folder.mkdir(parents=True)
    nbformat.write(fixture_notebook(), folder / f"{FIXTURE_NB}.ipynb")
    # in a thread of its own: build_site runs an event loop, and Playwright's may already run in this one
    # (when a test using the course's site ran first)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(build_site, root / "site", root / "notebooks", jobs=1, progress=lambda _line: None).result()
    return root / "site"


@pytest.fixture(scope="module")
def fixture_server(fixture_site: Path) -> Iterator[str]:
    with serve_folder(fixture_site) as url:
        yield url


# ------------------------------------------------------------------------------------------ browser helpers
def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.isReady "
                           "&& MathJax.Hub.queue.pending === 0 && !MathJax.Hub.queue.running", timeout=60_000)


def _math_settled(page: Any) -> None:
    page.wait_for_function("() => MathJax.Hub.queue.pending === 0 && !MathJax.Hub.queue.running", timeout=60_000)


# Every typeset inline math element inside a table cell: how many line boxes it makes, its height, and the
# height of one line of the cell's text.
TABLE_MATH_JS = """() => [...document.querySelectorAll('td .MathJax, th .MathJax')].map(m => {
  const cell = m.closest('td, th');
  const line = parseFloat(getComputedStyle(cell).lineHeight) || 1.5 * parseFloat(getComputedStyle(cell).fontSize);
  const frac = m.querySelector('.mfrac') !== null;
  return {tex: (m.previousElementSibling && m.previousElementSibling.textContent || '').slice(0, 60),
          rects: m.getClientRects().length, height: m.getBoundingClientRect().height, line, frac,
          text: m.textContent.slice(0, 40)};
})"""


def _math_lines(page: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The table math elements that wrap: more than one line box, or taller than a line (3 for a fraction)."""
    rows = page.evaluate(TABLE_MATH_JS)
    return rows, [r for r in rows if r["rects"] != 1 or r["height"] > r["line"] * (3.2 if r["frac"] else 1.6)]


AXE_JS = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' :: ' + (n.failureSummary || '').slice(0, 160)),
      count: v.nodes.length}));
}"""

ALT_JS = """() => [...document.images].map(i => ({alt: (i.getAttribute('alt') || '').trim(),
                                             src: i.src.slice(-48)}))"""


def _axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now."""
    if not AXE.is_file():
        missing(f"{AXE} is missing: `make browser-deps` installs axe-core with npm (tests/browser/package.json)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(AXE_JS)


# ------------------------------------------------------------------------------------------ fixture: files
def test_fixture_page_folds_snapshots_and_keeps_alt_text(fixture_site: Path) -> None:
    text = (fixture_site / "01-fixture.html").read_text()
    # the worked derivation and the model answer are closed <details>; no <details open> anywhere
    assert "Worked derivation (open after you have tried)" in text and "Model answer (open after" in text
    assert "<details open" not in text
    # the helpers' source sits inside a folded <details>, their output after it, outside
    helpers = re.search(r'<details class="site-helpers"><summary>Helpers for the self-checks</summary>(.*?)</details>',
                        text, flags=re.S)
    assert helpers, "the source_hidden cell is not folded"
    assert "check_fixture_answer" in html.unescape(re.sub(r"<[^>]+>", "", helpers.group(1)))
    after = text[helpers.end():]
    assert "self-check helpers loaded" in after[:3000], "the helpers' output is not shown under the fold"
    assert text.count("Helpers for the self-checks") == 1  # only the source_hidden cell is folded
    # every picture has alt text; the widget pictures take course_lib's, not a placeholder
    alts = re.findall(r'<img\b[^>]*\balt="([^"]*)"', text)
    assert len(alts) == len(re.findall(r"<img\b", text)) and all(a.strip() for a in alts), alts
    assert not any("No description" in a for a in alts), alts
    assert any(re.match(r"Backward pass, step (\d+) of \1\. Computation graph", a) for a in alts), alts


# ------------------------------------------------------------------------------------------ fixture: browser
def test_fixture_folds_open_on_click_with_math(guarded_page: tuple[Any, OutsideGuard], fixture_server: str,
                                               artifacts: Path) -> None:
    page, guard = guarded_page
    _open(page, f"{fixture_server}/01-fixture.html")
    details = page.locator("details")
    assert details.count() >= 4  # derivation, model answer, helpers, the solution of the answer cell
    assert not any(details.evaluate_all("els => els.map(d => d.open)")), "something is open before a click"

    worked = page.locator("details", has_text="Worked derivation")
    assert worked.count() == 1
    display_math = worked.locator(".MathJax_Display")
    assert display_math.count() == 1 and not display_math.first.is_visible()
    worked.locator("summary").click()
    _math_settled(page)
    assert worked.evaluate("d => d.open")
    display_math.first.wait_for(state="visible", timeout=20_000)  # a loaded machine lays it out late
    box = display_math.first.locator(".MathJax").bounding_box()
    assert box and box["width"] > 60 and box["height"] > 15, box  # typeset, with a real size once opened
    assert "\\frac" not in worked.inner_text() and worked.locator(".MathJax_Error").count() == 0
    worked.screenshot(path=str(artifacts / "site-fixture-worked-open.png"))

    helpers = page.locator("details.site-helpers")
    assert not helpers.locator("pre").first.is_visible()
    assert page.get_by_text("self-check helpers loaded", exact=True).is_visible()
    helpers.locator("summary").click()
    assert helpers.locator("pre").first.is_visible() and "check_fixture_answer" in helpers.inner_text()

    model = page.locator("details", has_text="Model answer")
    model.locator("summary").click()
    _math_settled(page)
    assert model.locator(".MathJax").first.is_visible()
    assert not guard.outside(), guard.outside()


def test_fixture_widgets_finished_once_and_no_repeated_figure(guarded_page: tuple[Any, OutsideGuard],
                                                              fixture_server: str) -> None:
    stepper = backward_stepper(exp_exp_chain(0.8)["y"])
    start = stepper.state_text
    stepper.show_final_state()
    final = stepper.state_text
    assert final != start and "?" not in final.split("\n\n", 1)[1]
    chooser = path_chooser(network_graph(init_params(seed=1), np.array([0.8, -0.5]), np.array([1.0, 0.0])))

    page, _guard = guarded_page
    _open(page, f"{fixture_server}/01-fixture.html")
    body = page.locator("body").inner_text()
    assert body.count(final) == 1, "the stepper's final text is not shown exactly once"
    assert start.splitlines()[0] not in body, "the stepper's starting text (Step 0) is still on the page"
    assert body.count(chooser.state_text) == 1, "the chooser's text is not shown exactly once"

    # the chooser's picture is the figure just above it: left out; no two pictures of the page alike
    images = page.evaluate("() => [...document.images].map(i => ({alt: i.alt, src: i.src}))")
    assert len({i["src"] for i in images}) == len(images) and len({i["alt"] for i in images}) == len(images)
    snapshots = page.locator(".site-widget")
    assert snapshots.count() == 2
    assert snapshots.nth(0).locator("img").count() == 1 and snapshots.nth(1).locator("img").count() == 0
    assert "picture is the figure above" in snapshots.nth(1).inner_text()


def test_fixture_table_math_on_one_line(guarded_page: tuple[Any, OutsideGuard], fixture_server: str) -> None:
    page, _guard = guarded_page
    page.set_viewport_size({"width": 420, "height": 900})  # a phone: the table is wider than the screen
    _open(page, f"{fixture_server}/01-fixture.html")
    rows, wrapped = _math_lines(page)
    assert len(rows) >= 6, rows
    assert not wrapped, wrapped


# ------------------------------------------------------------------------------------------ the course's pages
def test_course_table_math_on_one_line(guarded_page: tuple[Any, OutsideGuard], site_server: str) -> None:
    """On a wide screen and on a phone's: each page typeset once at 1280 px, then narrowed to 420 px (the site's
    MathJax does no automatic line breaking, so its output does not depend on the width; the table reflows)."""
    page, _guard = guarded_page
    checked = {1280: 0, 420: 0}
    for p in PAGES:
        page.set_viewport_size({"width": 1280, "height": 900})
        _open(page, f"{site_server}/{p.filename}")
        for width in checked:
            page.set_viewport_size({"width": width, "height": 900})
            assert page.evaluate("() => window.innerWidth") == width
            rows, wrapped = _math_lines(page)
            assert not wrapped, (p.slug, width, wrapped[:5])
            checked[width] += len(rows)
    assert min(checked.values()) >= 10, f"inline math elements in the course's tables: {checked}"


def test_course_widget_text_once_and_finished(guarded_page: tuple[Any, OutsideGuard], site_server: str) -> None:
    page, _guard = guarded_page
    snapshots = 0
    for p in PAGES:
        _open(page, f"{site_server}/{p.filename}")
        body = page.locator("body").inner_text()
        texts = page.locator(".site-widget .site-widget-html pre").all_inner_texts()
        for text in texts:
            assert body.count(text.strip()) == 1, f"{p.slug}: a widget's text is shown {body.count(text.strip())} times"
            if text.startswith("Step "):
                first = text.splitlines()[0]
                k, n = re.match(r"Step (\d+) of (\d+)", first).groups()
                assert k == n, f"{p.slug}: the stepper's snapshot is at {first}"
                assert not re.search(r"\s\?$", text, flags=re.M), f"{p.slug}: a gradient is still '?'"
        snapshots += len(texts)
        images = page.evaluate("() => [...document.images].map(i => i.src)")
        assert len(set(images)) == len(images), f"{p.slug}: the same picture twice"
        nb = nbformat.read(p.source, as_version=4)
        if any("backward_stepper(" in c.source for c in nb.cells):
            assert any(t.startswith("Step ") for t in texts), f"{p.slug}: no stepper snapshot"
    assert snapshots >= 4, snapshots


def test_every_page_passes_axe(guarded_page: tuple[Any, OutsideGuard], site_server: str, fixture_server: str) -> None:
    """axe-core: no serious or critical violation on any page, folded content opened, on a wide screen and then
    a phone's; every picture has alt text.

    Each page is loaded and typeset once, its folds opened (what a folded page shows is shown opened too), and
    checked at 1280 px, then again after the window is narrowed to 420 px (the page's CSS reflows it).
    """
    page, guard = guarded_page
    urls = [f"{site_server}/index.html"] + [f"{site_server}/{p.filename}" for p in PAGES]
    urls.append(f"{fixture_server}/01-fixture.html")
    figures: dict[str, dict[str, int]] = {}
    bad = []
    for url in urls:
        page.set_viewport_size({"width": 1280, "height": 900})
        _open(page, url)
        name = url.rsplit("/", 1)[1]
        page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
        _math_settled(page)
        for width in (1280, 420):
            if width != 1280:
                page.set_viewport_size({"width": width, "height": 900})
                _math_settled(page)
            assert page.evaluate("() => window.innerWidth") == width
            violations = _axe(page)
            counts: dict[str, int] = {}
            for v in violations:
                counts[v["impact"]] = counts.get(v["impact"], 0) + v["count"]
            figures[f"{name} ({width} px)"] = counts
            bad += [(name, width, v) for v in violations if v["impact"] in ("serious", "critical")]
        images = page.evaluate(ALT_JS)
        assert all(i["alt"] for i in images), (name, [i for i in images if not i["alt"]])
        assert not any("No description" in i["alt"] for i in images), name
    print({k: v for k, v in figures.items() if v} or "axe: no violations on any page")
    assert not bad, bad[:5]
    assert not guard.outside(), guard.outside()


def test_axe_finds_a_contrast_and_an_alt_problem(guarded_page: tuple[Any, OutsideGuard], site_server: str) -> None:
    """The check can fail: a grey-on-white line and an image without alt text are reported as serious+."""
    page, _guard = guarded_page
    _open(page, f"{site_server}/index.html")
    page.evaluate("""() => { const p = document.createElement('p'); p.textContent = 'faint text';
                             p.style.color = '#c8c8c8'; document.querySelector('main').appendChild(p);
                             const i = document.createElement('img'); i.src = 'mathjax/missing.png';
                             document.querySelector('main').appendChild(i); }""")
    found = {v["id"]: v["impact"] for v in _axe(page)}
    assert found.get("color-contrast") == "serious" and found.get("image-alt") == "critical", found
