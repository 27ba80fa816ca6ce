"""The student set-up shows no instructor tools; the instructor's plain ``jupyter lab`` does.

What is measured in the browser, for both set-ups on the same folder: the main menu (nbgrader adds an
*Nbgrader* menu with Formgrader), the sidebars (nbgrader's *Create Assignment* panel), JupyterLab's
commands and plugins with nbgrader's ids, and the server's ``/formgrader`` page. The instructor test is
what makes the student test meaningful: the same checks find the tools there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from browser_support import ROOT, LabServer, OutsideGuard
from lab_driver import LabNotebook, open_lab

pytestmark = pytest.mark.browser

INSTRUCTOR_COMMANDS = ("nbgrader:open-formgrader", "nbgrader:open-create-assignment")

TOOLS_JS = """() => {
  const app = window.jupyterapp;
  return {
    menus: [...document.querySelectorAll('#jp-menu-panel .lm-MenuBar-itemLabel')].map(e => e.textContent),
    tabs: [...document.querySelectorAll('.lm-TabBar-tab')].map(e => e.title || e.textContent),
    commands: app.commands.listCommands().filter(c => c.startsWith('nbgrader')),
    plugins: app.listPlugins().filter(p => p.startsWith('@jupyter/nbgrader')),
    launcher: [...document.querySelectorAll('.jp-LauncherCard-label')].map(e => e.textContent),
    toolbar: [...document.querySelectorAll('.jp-NotebookPanel-toolbar .jp-Toolbar-item')].map(e => e.innerText.trim()),
  };
}"""


def _tools(page: Any, server: LabServer) -> tuple[dict[str, Any], LabNotebook]:
    """What JupyterLab shows with a notebook open (nbgrader's notebook tools appear with one)."""
    open_lab(page, server.lab_url(), collapse_left=False)
    nb = LabNotebook(page, "release/01-chain-rule/chain-rule.ipynb")
    page.wait_for_timeout(500)
    found = page.evaluate(TOOLS_JS)
    found["formgrader_status"] = server.get("/formgrader")
    return found, nb


def _has_create_assignment(tabs: list[str]) -> bool:
    return any(re.search(r"create assignment", t, re.I) for t in tabs)


def test_student_lab_shows_no_instructor_tools(
    guarded_page: tuple[Any, OutsideGuard], student_lab: LabServer, artifacts: Path
) -> None:
    page, guard = guarded_page
    tools, nb = _tools(page, student_lab)
    try:
        page.screenshot(path=str(artifacts / "lab-student-setup.png"))
    finally:
        nb.close()
    assert "File" in tools["menus"] and "Kernel" in tools["menus"], tools["menus"]  # the page did load
    assert "Nbgrader" not in tools["menus"], tools["menus"]
    assert not _has_create_assignment(tools["tabs"]), tools["tabs"]
    assert not tools["commands"], tools["commands"]
    assert not tools["plugins"], tools["plugins"]
    assert not any("grader" in label.lower() for label in tools["launcher"]), tools["launcher"]
    assert "Validate" not in tools["toolbar"], tools["toolbar"]
    assert tools["formgrader_status"] == 404, tools["formgrader_status"]
    assert not guard.outside(), guard.outside()


def test_instructor_lab_shows_nbgrader(
    guarded_page: tuple[Any, OutsideGuard], instructor_lab: LabServer, artifacts: Path
) -> None:
    page, guard = guarded_page
    tools, nb = _tools(page, instructor_lab)
    try:
        assert "Nbgrader" in tools["menus"], tools["menus"]
        page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        menu = page.locator(".lm-Menu-content").last
        menu.wait_for(state="visible")
        menu_text = menu.inner_text()
        page.screenshot(path=str(artifacts / "lab-instructor-setup.png"))
        page.keyboard.press("Escape")
    finally:
        nb.close()
    assert "Formgrader" in menu_text, menu_text
    assert _has_create_assignment(tools["tabs"]), tools["tabs"]
    assert set(INSTRUCTOR_COMMANDS) <= set(tools["commands"]), tools["commands"]
    assert "@jupyter/nbgrader:formgrader" in tools["plugins"], tools["plugins"]
    assert "Validate" in tools["toolbar"], tools["toolbar"]
    assert tools["formgrader_status"] == 200, tools["formgrader_status"]
    assert not guard.outside(), guard.outside()


def test_readme_gives_students_the_set_up_without_instructor_tools() -> None:
    readme = (ROOT / "README.md").read_text()
    student = readme.split("**A student**", 1)[1].split("**An instructor**", 1)[0]
    assert "backprop-course lab" in student, student
    reader = readme.split("**A self-paced reader**", 1)[1]
    assert "backprop-course site" in reader, reader
