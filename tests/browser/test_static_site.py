"""The static site (``backprop-course site``): what its files contain, then what a browser makes of them.

The file checks need no browser. The browser test serves the site from 127.0.0.1 and visits every page:
math typeset by the site's own MathJax, every image loaded, every link working (the pages, their
navigation and in-page anchors), solutions folded until clicked, and no request to any other host
(every request is routed through the guard and any other host fails the test).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import nbformat
import pytest
from browser_support import NOTEBOOKS, OutsideGuard

from autograder.reader.site import (
    CODE_STUB,
    estimated_minutes,
    find_pages,
    notebook_title,
    outside_urls,
    release_stub,
    solution_text,
    static_widget_html,
    strip_hidden_tests,
)

pytestmark = pytest.mark.browser

PAGES = find_pages(NOTEBOOKS)


def _text(page_html: str) -> str:
    """The visible text of a page: tags dropped (pygments splits code into spans), entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page_html))


def _rel_links(page_html: str, rel: str) -> list[str]:
    """The targets of the page's ``<a rel="...">`` links (top and bottom navigation)."""
    tags = re.findall(rf'<a\b[^>]*\brel="{rel}"[^>]*>', page_html)
    return [m.group(1) for t in tags if (m := re.search(r'href="([^"]*)"', t))]


def _hidden_blocks(source: str) -> list[str]:
    return re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", source, flags=re.S)


# -------------------------------------------------------------------------------------------- the parts
def test_stub_and_hidden_test_rules() -> None:
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n\nprint(1)"
    assert release_stub(source) == f"def f(x):\n    {CODE_STUB.replace(chr(10), chr(10) + '    ')}\n\nprint(1)"
    assert release_stub("x = 1") == CODE_STUB
    assert solution_text(source) == "def f(x):\n    return 2 * x\n\nprint(1)"
    test = "check(1)\n### BEGIN HIDDEN TESTS\ncheck(2)\n### END HIDDEN TESTS\nprint('ok')"
    assert strip_hidden_tests(test) == "check(1)\nprint('ok')"


def test_release_stubs_are_what_nbgrader_releases(course_dir: Path) -> None:
    """The site's stub of every answer cell is exactly the cell in the student release."""
    checked = 0
    for page in PAGES:
        source = nbformat.read(page.source, as_version=4)
        released = nbformat.read(course_dir / "release" / page.assignment / page.source.name, as_version=4)
        by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in released.cells}
        for cell in source.cells:
            meta = cell.metadata.get("nbgrader") or {}
            if meta.get("solution"):
                assert release_stub(cell.source, cell.cell_type) == by_id[meta["grade_id"]].source
                checked += 1
    assert checked >= 10, checked


def test_titles_and_times_come_from_each_notebook() -> None:
    assert [p.assignment for p in PAGES] == sorted(p.assignment for p in PAGES)
    assert len(PAGES) == len([d for d in NOTEBOOKS.iterdir() if d.is_dir() and list(d.glob("*.ipynb"))])
    for page in PAGES:
        nb = nbformat.read(page.source, as_version=4)
        assert page.title == notebook_title(nb) and page.title, page
        first = nb.cells[0].source
        m = re.search(r"Estimated time:\**\s*(\d+) minutes", first)
        assert m and page.minutes == estimated_minutes(nb) == int(m.group(1)), (page, first[:300])


def test_static_widget_snapshot_shows_controls_picture_and_text() -> None:
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    state = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_s", "IPY_MODEL_i", "IPY_MODEL_t"]}},
        "s": {"model_name": "FloatSliderModel",
              "state": {"description": "x", "value": 0.8, "min": -1, "max": 1, "step": 0.1, "readout_format": ".3f"}},
        "i": {"model_name": "ImageModel", "state": {"format": "png"},
              "buffers": [{"path": ["value"], "data": png, "encoding": "base64"}]},
        "t": {"model_name": "HTMLModel", "state": {"value": "<pre>x = 0.800 &lt;tag&gt;</pre><script>x()</script>"}},
    }
    out = static_widget_html("box", state)
    assert out is not None
    assert 'type="range" disabled' in out and "<output>0.800</output>" in out
    assert f"data:image/png;base64,{png}" in out
    assert "<pre tabindex=\"0\">x = 0.800 &lt;tag&gt;</pre>" in out and "<script>" not in out
    assert static_widget_html("missing", state) is None
    assert static_widget_html("box", {**state, "t": {"model_name": "SomethingElse", "state": {}}}) is None


# -------------------------------------------------------------------------------------------- the files
def test_site_files(built_site: Path) -> None:
    """Index, one page per notebook, MathJax; solutions folded, hidden tests absent; no outside URL."""
    index = (built_site / "index.html").read_text()
    links = re.findall(r'<a href="([^"]+\.html)">', index)
    assert links == [p.filename for p in PAGES], links
    for page in PAGES:
        assert f"{page.minutes} min" in index
    assert (built_site / "mathjax" / "MathJax.js").is_file()
    assert not outside_urls(index)

    for i, page in enumerate(PAGES):
        text = (built_site / page.filename).read_text()
        assert not outside_urls(text), outside_urls(text)
        assert "cdnjs" not in text and "unpkg" not in text and "jsdelivr" not in text
        assert 'src="mathjax/MathJax.js?config=' in text
        assert 'href="index.html"' in text
        assert _rel_links(text, "prev") == ([PAGES[i - 1].filename] * 2 if i > 0 else [])
        assert _rel_links(text, "next") == ([PAGES[i + 1].filename] * 2 if i < len(PAGES) - 1 else [])

        source = nbformat.read(page.source, as_version=4)
        visible = _text(text)
        answers = [c for c in source.cells if (c.metadata.get("nbgrader") or {}).get("solution")]
        assert text.count('<details class="site-solution">') == len(answers)
        assert "<details open" not in text
        for cell in answers:
            for line in solution_text(strip_hidden_tests(cell.source)).splitlines():
                assert line.strip() in visible, f"{page.slug}: solution line missing: {line!r}"
        assert visible.count("raise NotImplementedError()") >= len(answers)

        public = "\n".join(strip_hidden_tests(c.source) for c in source.cells)
        hidden = {line.strip() for c in source.cells for block in _hidden_blocks(c.source)
                  for line in block.splitlines() if len(line.strip()) > 12 and line.strip() not in public}
        assert hidden or page.slug.startswith("00"), f"{page.slug}: no distinctive hidden-test line to look for"
        shown = [line for line in hidden if line in visible]
        assert not shown, f"{page.slug}: hidden tests shown: {shown[:3]}"
        assert "HIDDEN TESTS" not in visible and "BEGIN SOLUTION" not in visible

        assert 'data-mime-type="application/vnd.jupyter.stderr"' not in text, f"{page.slug}: an error output"
        assert "application/vnd.jupyter.widget" not in text, f"{page.slug}: a live widget left in"
        n_codes = sum(1 for c in source.cells if c.cell_type == "code" and c.source.strip())
        counts = re.findall(r"In\s\[(\d+)\]:", visible)
        assert len(counts) == n_codes, f"{page.slug}: {len(counts)} executed cells of {n_codes}"
        widgets = sum(1 for c in source.cells
                      if re.search(r"slider_explorer\(|backward_stepper\(|path_chooser\(|gate_explorer\(", c.source))
        assert text.count('<div class="site-widget"') == widgets, page.slug


# -------------------------------------------------------------------------------------------- the browser
MATH_JS = """() => {
  const typeset = document.querySelectorAll('.MathJax, .MathJax_Display, .MathJax_CHTML').length;
  const errors = document.querySelectorAll('.MathJax_Error, merror').length
                 + (document.body.innerText.includes('Math Processing Error') ? 1 : 0);
  // TeX left as text outside code: a $...$ that MathJax did not typeset
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {acceptNode: (n) =>
      n.parentElement.closest('pre, code, script, style, .MathJax_Preview') ? NodeFilter.FILTER_REJECT
                                                                            : NodeFilter.FILTER_ACCEPT});
  const raw = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (/\\$[^$\\s][^$]*\\$|\\\\frac|\\\\partial/.test(n.textContent)) raw.push(n.textContent.slice(0, 80));
  }
  return {typeset, errors, raw};
}"""

IMAGES_JS = """() => [...document.images].map(i => ({src: i.src.slice(0, 60), ok: i.complete && i.naturalWidth > 0}))"""

LINKS_JS = """() => [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))"""


def _wait_for_math(page: Any) -> None:
    page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.isReady "
                           "&& MathJax.Hub.queue.pending === 0 && !MathJax.Hub.queue.running", timeout=60_000)


def _check_page(page: Any, expect_math: bool) -> dict[str, Any]:
    _wait_for_math(page)
    math = page.evaluate(MATH_JS)
    if expect_math:
        assert math["typeset"] > 0, "no math was typeset"
    assert math["errors"] == 0 and not math["raw"], math
    images = page.evaluate(IMAGES_JS)
    assert all(i["ok"] for i in images), [i for i in images if not i["ok"]]
    for href in page.evaluate(LINKS_JS):
        if href.startswith("#"):
            # as a browser resolves a fragment: the id as written, else its percent-decoded form
            ids = [href[1:], unquote(href[1:])]
            assert page.evaluate("(ids) => ids.some(id => document.getElementById(id) !== null)", ids), href
        else:
            assert not re.match(r"[a-z]+:", href), f"link out of the site: {href}"
            response = page.request.get(page.url.rsplit("/", 1)[0] + "/" + href)
            assert response.status == 200, (href, response.status)
    return {"math": math["typeset"], "images": len(images)}


def test_site_in_a_browser(guarded_page: tuple[Any, OutsideGuard], site_server: str, artifacts: Path) -> None:
    page, guard = guarded_page
    page.goto(f"{site_server}/index.html")
    _check_page(page, expect_math=True)
    page.screenshot(path=str(artifacts / "site-index.png"))
    assert page.locator("#contents tbody tr").count() == len(PAGES)

    # follow the contents to the first page, then "next" through the whole course and back to the index
    page.locator("#contents a").first.click()
    seen = []
    for i, expected in enumerate(PAGES):
        page.wait_for_url(f"**/{expected.filename}")
        title = page.locator("h1").first.inner_text()
        seen.append(title)
        summary = _check_page(page, expect_math=True)
        source_figures = sum(1 for c in nbformat.read(expected.source, as_version=4).cells
                             if c.cell_type == "code" and "display(fig)" in c.source)
        assert summary["images"] >= source_figures, (expected.slug, summary)

        details = page.locator("details.site-solution")
        assert details.count() >= 1
        assert not any(details.evaluate_all("els => els.map(d => d.open)")), "a solution is open before a click"
        first = details.first
        assert not first.locator("pre").first.is_visible()
        first.locator("summary").click()
        assert first.evaluate("d => d.open") and first.locator("pre").first.is_visible()
        if expected.slug.startswith("01"):
            first.scroll_into_view_if_needed()
            page.evaluate("() => window.scrollBy(0, -60)")
            page.screenshot(path=str(artifacts / "site-solution-open.png"))
            snapshot = page.locator(".site-widget").last
            snapshot.evaluate("(el) => el.scrollIntoView({block: 'start'})")
            page.screenshot(path=str(artifacts / "site-widget-snapshot.png"))
        if expected.slug.startswith("02"):
            page.evaluate("() => window.scrollTo(0, 0)")
            page.screenshot(path=str(artifacts / f"site-{expected.slug}.png"))
        if i < len(PAGES) - 1:
            page.locator("nav.site-nav.top a[rel=next]").click()
    assert all(seen), seen
    assert page.locator("nav.site-nav.top a[rel=next]").count() == 0
    page.locator("nav.site-nav.bottom a", has_text="Contents").click()
    page.wait_for_url("**/index.html")

    assert not guard.outside(), f"the site asked other hosts for: {guard.outside()}"
    assert not guard.failed, f"failed requests: {guard.failed}"
    local = {u.split("?")[0] for u in guard.seen if u.startswith(site_server)}
    assert any("/mathjax/" in u for u in local), "MathJax was not loaded from the site"
    print(json.dumps({"requests": len(guard.seen), "mathjax_files": sum("/mathjax/" in u for u in local)}))


def test_the_guard_catches_a_request_to_another_host(guarded_page: tuple[Any, OutsideGuard], site_server: str) -> None:
    """The no-outside-request check can fail: a page that asks another host is caught (and nothing leaves)."""
    page, guard = guarded_page
    page.goto(f"{site_server}/index.html")
    page.evaluate("""() => { const img = document.createElement('img');
                             img.src = 'https://cdn.example.invalid/pixel.png'; document.body.appendChild(img); }""")
    page.wait_for_timeout(500)
    assert guard.outside() == ["https://cdn.example.invalid/pixel.png"], guard.outside()
