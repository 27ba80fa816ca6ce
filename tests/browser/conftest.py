"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, JupyterLab servers, the static site.

Every browser context routes all its requests through :class:`browser_support.OutsideGuard`: a request to
any host other than 127.0.0.1 is aborted and recorded, and the tests assert that none was made. Servers
(JupyterLab, the site's web server) are started on free ports of 127.0.0.1 and always stopped.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    ARTIFACTS,
    BIN,
    CHROMIUM,
    CHROMIUM_ARGS,
    NOTEBOOKS,
    LabServer,
    OutsideGuard,
    guarded_context,
    missing,
    run_tool,
    serve_folder,
    start_lab,
    stop_process_group,
)


# ------------------------------------------------------------------------------------------------ browser
@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, launched by Playwright (one per session)."""
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver to run the browser tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is not installed: it is in the test extra (pip install -e '.[test]')")
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        pw.stop()


@pytest.fixture
def guarded_page(browser: Any) -> Iterator[tuple[Any, OutsideGuard]]:
    """A fresh browser page (own context, 1280x900) whose requests go through an :class:`OutsideGuard`."""
    context, page, guard = guarded_context(browser)
    try:
        yield page, guard
    finally:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """``test-artifacts/browser/``: where the screenshots go (ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# ------------------------------------------------------------------------------------------------ course
@pytest.fixture(scope="session")
def course_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A course folder after ``backprop-course release`` (the student notebooks in ``release/``)."""
    course = tmp_path_factory.mktemp("browser-course") / "course"
    run_tool("backprop-course", "release", "--course-dir", str(course))
    return course


@pytest.fixture(scope="session")
def lab_root(course_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder JupyterLab opens: ``release/<assignment>/`` and ``solutions/<assignment>/`` notebooks."""
    root = tmp_path_factory.mktemp("lab-root")
    for name in sorted(p.name for p in (course_dir / "release").iterdir() if p.is_dir()):
        shutil.copytree(course_dir / "release" / name, root / "release" / name)
        shutil.copytree(NOTEBOOKS / name, root / "solutions" / name,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return root


@pytest.fixture(scope="session")
def student_lab(browser: Any, lab_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """The README's student set-up: ``backprop-course lab FOLDER`` (nbgrader's tools off)."""
    home = tmp_path_factory.mktemp("student-lab")
    server = start_lab([str(BIN / "backprop-course"), "lab", str(lab_root)], home, "student")
    try:
        yield server
    finally:
        stop_process_group(server.proc)


@pytest.fixture(scope="module")
def instructor_lab(browser: Any, lab_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """The instructor's set-up: plain ``jupyter lab`` in this environment (nbgrader installed and enabled)."""
    home = tmp_path_factory.mktemp("instructor-lab")
    server = start_lab([str(BIN / "jupyter"), "lab", f"--ServerApp.root_dir={lab_root}"], home, "instructor")
    try:
        yield server
    finally:
        stop_process_group(server.proc)


# ------------------------------------------------------------------------------------------------ site
@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The static site, built by ``backprop-course site --out DIR``."""
    out = tmp_path_factory.mktemp("site") / "site"
    run_tool("backprop-course", "site", "--out", str(out))
    return out


@pytest.fixture(scope="session")
def site_server(built_site: Path) -> Iterator[str]:
    """A web server for the built site on 127.0.0.1 (a thread of this process); yields its base URL."""
    with serve_folder(built_site) as url:
        yield url
