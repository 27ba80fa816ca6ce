"""`backprop-course site`: the course as a static HTML site, for self-paced readers or for a class.

Every source notebook is executed (hidden tests removed first: they are the instructor's), then exported
with nbconvert's ``lab`` template (:mod:`autograder.reader.pages`, templates in ``templates/``) into
``OUT/<assignment>.html``:

* on the self-paced site (the default) an answer cell shows the release stub (what a student starts from)
  with the worked solution folded under ``<details><summary>Solution</summary>``, and worked derivations
  are folded after the exercises; the start page says so, and offers every notebook (as a student starts
  it) and the ``course_lib`` wheel for download from ``OUT/downloads/`` (:mod:`autograder.reader.downloads`);
* a class's site (``solutions=False``, ``backprop-course site --no-solutions``) is built from the release
  version: no solutions, no worked derivations, and a cell that needs an answer shows no output;
* widgets become static snapshots (:mod:`autograder.reader.snapshots`), so a page needs no widget JavaScript;
* pictures keep their alt text; the self-check helpers' source is folded;
* math is rendered by a local copy of MathJax 2.7 (from the ``jupyter-server-mathjax`` package) in
  ``OUT/mathjax/``; no page asks any other host for anything;
* every page has links to the previous and next notebook and to ``OUT/index.html``, which lists the
  notebooks in course order with their points and estimated times.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jupyter_server_mathjax
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from autograder.coursedir.course import NOTEBOOKS_DIR, source_assignments
from autograder.errors import CourseError
from autograder.notebook.cells import (
    BEGIN_HIDDEN,
    CODE_STUB,
    meta,
    solution_text,
    strip_hidden_tests,
)
from autograder.reader.downloads import MARKDOWN_STUB, release_stub, release_version, write_downloads
from autograder.reader.pages import (
    MATHJAX_DIR,
    Page,
    course_page,
    estimated_minutes,
    notebook_points,
    notebook_title,
    start_page,
)
from autograder.reader.snapshots import FINISH_WIDGETS, static_widget_html, static_widgets

__all__ = [
    "CODE_STUB",
    "MARKDOWN_STUB",
    "Page",
    "SiteError",
    "build_site",
    "estimated_minutes",
    "find_pages",
    "mathjax_source",
    "notebook_points",
    "notebook_title",
    "outside_urls",
    "prepare_notebook",
    "release_stub",
    "solution_text",
    "static_widget_html",
    "strip_hidden_tests",
]


class SiteError(CourseError):
    """The site could not be built; the message says why."""


def prepare_notebook(nb: Any, solutions: bool = True) -> Any:
    """A copy of source notebook ``nb`` ready to execute for the site.

    Hidden tests are removed from every cell. With ``solutions``, each answer cell keeps its solution (so
    that the notebook runs) and records in ``cell.metadata.site`` the release stub and the solution to
    show. Without, the notebook is the release version (:func:`release_version`).
    """
    if not solutions:
        return release_version(nb)
    nb = nbformat.from_dict(copy.deepcopy(dict(nb)))
    for cell in nb.cells:
        if BEGIN_HIDDEN in cell.source:
            cell.source = strip_hidden_tests(cell.source)
        if meta(cell).get("solution"):
            cell.metadata["site"] = {
                "stub": release_stub(cell.source, cell.cell_type),
                "solution": solution_text(cell.source),
            }
    return nb


def _without_failures(nb: Any) -> None:
    """Clear the outputs of every cell that failed (a class's site runs without answers)."""
    for cell in nb.cells:
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            cell.outputs = []


def mathjax_source() -> Path:
    """The folder of MathJax 2.7 files that the ``jupyter-server-mathjax`` package ships."""
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (static / "MathJax.js").is_file() or not (static / "config" / "TeX-AMS-MML_HTMLorMML-full.js").is_file():
        raise SiteError(f"{static} does not hold MathJax 2.7 (MathJax.js and its TeX config)")
    return static


def find_pages(notebooks: Path = NOTEBOOKS_DIR) -> list[Page]:
    """The site's pages: every notebook of every assignment folder, in course order."""
    pages = []
    for assignment in source_assignments(notebooks, graded_only=False):
        files = sorted((notebooks / assignment).glob("*.ipynb"))
        for path in files:
            nb = nbformat.read(path, as_version=4)
            slug = assignment if len(files) == 1 else f"{assignment}-{path.stem}"
            pages.append(Page(assignment, path, slug, notebook_title(nb) or path.stem, estimated_minutes(nb),
                              notebook_points(nb)))
    if not pages:
        raise SiteError(f"no notebooks in {notebooks}: expected folders like notebooks/01-chain-rule/*.ipynb")
    return pages


async def _execute_all(pages: list[Page], workdir: Path, jobs: int, timeout: int, solutions: bool,
                       progress: Callable[[str], None]) -> list[tuple[Any, dict[str, list[str]]]]:

    gate = asyncio.Semaphore(max(1, jobs))

    async def run(page: Page) -> Any:
        async with gate:
            folder = workdir / page.slug
            shutil.copytree(page.source.parent, folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
            nb = prepare_notebook(nbformat.read(page.source, as_version=4), solutions)
            finish = nbformat.v4.new_code_cell(FINISH_WIDGETS)
            nb.cells.append(finish)  # runs last, in the same kernel; taken out again below
            started = time.monotonic()
            client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                                    allow_errors=not solutions, resources={"metadata": {"path": str(folder)}})
            try:
                await client.async_execute()
            except CellExecutionError as err:
                raise SiteError(f"{page.source} failed while building the site:\n{err}") from err
            nb.cells.remove(finish)
            if not solutions:
                _without_failures(nb)
            printed = "".join(o.get("text", "") for o in finish.outputs if o.get("output_type") == "stream")
            try:
                texts = json.loads(printed)
            except ValueError as err:
                raise SiteError(f"{page.source}: could not read the widgets' texts after the run: {printed[:300]!r}") \
                    from err
            progress(f"  executed {page.slug} in {time.monotonic() - started:.1f} s")
            return nb, texts

    return list(await asyncio.gather(*(run(p) for p in pages)))


def build_site(
    out: Path = Path("site"),
    notebooks: Path = NOTEBOOKS_DIR,
    *,
    solutions: bool = True,
    jobs: int = 2,
    timeout: int = 300,
    progress: Callable[[str], None] = print,
) -> Path:
    """Build the static site in ``out`` (replacing an earlier build there); returns ``out/index.html``.

    Args:
        out: the site folder; everything it needs is inside it.
        notebooks: the source notebooks, one folder per assignment.
        solutions: True for the self-paced site (solutions folded, downloads); False for a class's site.
        jobs: notebooks executed at once.
        timeout: seconds one cell may run.
        progress: called with a line of progress at each step.
    """
    pages = find_pages(notebooks)
    mathjax = mathjax_source()
    progress(f"executing {len(pages)} notebook(s), {jobs} at a time" + ("" if solutions else ", without solutions"))
    with tempfile.TemporaryDirectory(prefix="backprop-site-") as tmp:
        executed = asyncio.run(_execute_all(pages, Path(tmp), jobs, timeout, solutions, progress))
    out = Path(out)
    staging = out.with_name(out.name + ".part")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for i, (nb, texts) in enumerate(executed):
        n_widgets = static_widgets(nb, texts)
        page_html = course_page(nb, pages, i)
        if outside_urls(page_html):
            raise SiteError(f"{pages[i].filename} would load from other hosts: {outside_urls(page_html)[:5]}")
        (staging / pages[i].filename).write_text(page_html, encoding="utf-8")
        progress(f"  wrote {pages[i].filename}" + (f" ({n_widgets} widget snapshot(s))" if n_widgets else ""))
    downloads, wheel = write_downloads(staging, [(p.slug, p.source) for p in pages]) if solutions else (None, None)
    index = start_page(pages, solutions=solutions, downloads=downloads, wheel=wheel)
    (staging / "index.html").write_text(index, encoding="utf-8")
    shutil.copytree(mathjax, staging / MATHJAX_DIR)
    if out.exists():
        shutil.rmtree(out)
    staging.replace(out)
    return out / "index.html"


def outside_urls(text: str, allowed: Iterable[str] = ()) -> list[str]:
    """The ``http(s)://`` URLs that ``text`` loads from (``src=``, ``href=`` of stylesheets, CSS ``url()``,
    ``import``), other than those starting with one of ``allowed``."""
    found = re.findall(r"""(?:src\s*=\s*["']|url\(\s*["']?|import\s*\(?\s*["']|<link[^>]+href\s*=\s*["'])"""
                       r"""(https?://[^"')\s]+)""", text, flags=re.I)
    return [u for u in found if not any(u.startswith(a) for a in allowed)]
