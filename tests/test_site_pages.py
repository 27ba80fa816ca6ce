"""The static site's start page, downloads and templates, without a kernel or a browser (issue 23 item 7, 24)."""

from __future__ import annotations

import ast
import fnmatch
import tomllib
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.notebook.worked import is_worked
from autograder.reader import downloads, pages, site
from autograder.reader.pages import estimated_minutes, notebook_points, start_page
from autograder.reader.site import find_pages

ROOT = Path(__file__).resolve().parents[1]
PAGES = find_pages(ROOT / "notebooks")


def test_the_templates_are_files_in_the_package_data():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    globs = data["autograder.reader"]
    files = sorted(p.relative_to(pages.TEMPLATES.parent).as_posix() for p in pages.TEMPLATES.iterdir())
    assert {"templates/page.html.j2", "templates/start.html.j2", "templates/site.css",
            "templates/mathjax_head.html.j2"} <= set(files)
    assert all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files), (files, globs)


def test_site_modules_hold_no_css_or_html_templates_and_stay_small():
    for module in (site, pages, downloads):
        path = Path(module.__file__)
        text = path.read_text()
        assert "{% block" not in text and "border-collapse" not in text and "<!DOCTYPE" not in text, path.name
        assert len(text.splitlines()) < 500, path.name
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno - node.lineno + 1 <= 60, (path.name, node.name)


def test_points_and_times_come_from_metadata_else_from_the_header():
    nb = nbformat.read(str(next(p.source for p in PAGES if p.slug.startswith("02"))), as_version=4)
    header = nb.cells[0].source
    assert f"**Points:** {notebook_points(nb):g} in total" in header  # the header's own statement
    assert f"**Estimated time:** {estimated_minutes(nb)} minutes" in header
    nb.metadata["syllabus"] = {"points": 16, "minutes": 100}
    assert notebook_points(nb) == 16 and estimated_minutes(nb) == 100


def test_the_self_paced_start_page_holds_the_solutions_and_the_downloads():
    links = {p.slug: [f"downloads/{p.assignment}/{p.source.name}"] for p in PAGES}
    html = start_page(PAGES, solutions=True, downloads=links, wheel="downloads/backprop_course_lib-1-py3-none-any.whl")
    assert "holds the solutions" in html and "a reader on their own" in html
    assert "instructor" not in html.lower() and "nbgrader" not in html and "submit" not in html.lower()
    for p in PAGES:
        assert f'href="downloads/{p.assignment}/{p.source.name}" download' in html
    assert 'href="downloads/backprop_course_lib-1-py3-none-any.whl" download' in html
    assert "pip install backprop_course_lib-1-py3-none-any.whl" in html
    total = sum(p.points or 0 for p in PAGES)
    assert f'<td class="num">{total:g}</td>' in html and "practice" in html  # 00 has no points


def test_a_class_start_page_has_no_solutions_and_no_downloads():
    html = start_page(PAGES, solutions=False)
    assert "without their solutions" in html and "holds the solutions" not in html
    assert "download" not in html


@pytest.mark.parametrize("slug", [p.slug for p in PAGES])
def test_the_downloaded_notebook_is_the_release_version(slug, tmp_path):
    page = next(p for p in PAGES if p.slug == slug)
    links, wheel = downloads.write_downloads(tmp_path, [(page.slug, page.source)])
    (path,) = [tmp_path / f for f in links[slug] if f.endswith(".ipynb")]
    nb = nbformat.read(str(path), as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and not any(map(is_worked, nb.cells))
    source = nbformat.read(str(page.source), as_version=4)
    answers = [c for c in source.cells if (c.metadata.get("nbgrader") or {}).get("solution")]
    assert text.count("raise NotImplementedError()") + text.count("YOUR ANSWER HERE") >= len(answers)
    with zipfile.ZipFile(tmp_path / wheel) as wheel_zip:
        assert "course_lib/__init__.py" in wheel_zip.namelist()


def test_the_site_command_takes_no_solutions():
    from autograder.cli import build_parser

    args = build_parser().parse_args(["site", "--no-solutions", "--out", "class-site"])
    assert args.no_solutions and args.out == Path("class-site")
