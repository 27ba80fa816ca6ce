"""The instructor's course folder: where things live, nbgrader's configuration, and its API.

Layout (nbgrader's own)::

    DIR/source/<assignment>/<notebook>.ipynb       copied from the repository's notebooks/
    DIR/release/<assignment>/...  and <assignment>.zip
    DIR/submitted/<student>/<assignment>/...       filed by `collect`
    DIR/autograded/<student>/<assignment>/...      written by `grade`
    DIR/feedback/<student>/<assignment>/*.html     written by `grade`
    DIR/gradebook.db                               nbgrader's SQLite gradebook (or --db URL)
    DIR/grades.csv, DIR/report.txt, DIR/report.png
    DIR/.grading/                                  state of `grade`: results of each submission
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.coursedir.database import normalise_db_url
from autograder.errors import CourseError
from autograder.notebook.cells import CODE_STUB, is_graded
from autograder.settings import COURSE_ID

__all__ = [
    "CourseDir",
    "CourseError",
    "DEFAULT_COURSE_DIR",
    "NOTEBOOKS_DIR",
    "nbgrader_api",
    "nbgrader_config",
    "source_assignments",
    "write_nbgrader_config",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
DEFAULT_COURSE_DIR = Path("course")


@dataclass(frozen=True)
class CourseDir:
    """Paths inside one course folder."""

    root: Path
    db_url: str = ""

    @staticmethod
    def at(root: str | Path, db_url: str | None = None) -> CourseDir:
        """The course folder at ``root`` (created if missing), gradebook ``db_url`` or SQLite in it.

        ``db_url`` is normalised by :func:`autograder.coursedir.database.normalise_db_url` (``postgresql://`` gets the
        psycopg 3 driver); an unknown scheme is a CourseError.
        """
        path = Path(root).expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        if db_url:
            db_url = normalise_db_url(db_url)
        return CourseDir(path, db_url or f"sqlite:///{path / 'gradebook.db'}")

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def release(self) -> Path:
        return self.root / "release"

    @property
    def submitted(self) -> Path:
        return self.root / "submitted"

    @property
    def autograded(self) -> Path:
        return self.root / "autograded"

    @property
    def feedback(self) -> Path:
        return self.root / "feedback"

    @property
    def archive(self) -> Path:
        """Earlier submissions that a resubmission replaced (never deleted)."""
        return self.root / "archive"

    @property
    def state(self) -> Path:
        return self.root / ".grading"

    @property
    def grades_csv(self) -> Path:
        return self.root / "grades.csv"

    def assignments(self) -> list[str]:
        """Assignments in ``source/`` that have graded notebooks, in course order."""
        return source_assignments(self.source)


def _has_graded_cells(path: Path) -> bool:
    try:
        nb = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return any(is_graded(c) for c in nb.get("cells", []))


def source_assignments(folder: Path = NOTEBOOKS_DIR, graded_only: bool = True) -> list[str]:
    """Assignment folders under ``folder`` (sorted by name, which is course order).

    With ``graded_only``, folders whose notebooks have no graded cell (the start-here notebook) are left out.
    """
    if not folder.is_dir():
        return []
    names = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        notebooks = sorted(sub.glob("*.ipynb"))
        if notebooks and (not graded_only or any(_has_graded_cells(nb) for nb in notebooks)):
            names.append(sub.name)
    return names


def nbgrader_config(course: CourseDir, *, cell_timeout: int = 30, extra: dict | None = None):
    """nbgrader's configuration for this course (a traitlets ``Config``).

    Settings that matter for fair grading: a per-cell timeout; deleted test cells are restored and graded
    (``OverwriteCells.add_missing_cells``); output is capped (``LimitOutput``); the kernel is the Python
    that runs this command; feedback hides hidden tests (:mod:`autograder.grading.feedback`).
    """
    from traitlets.config import Config

    c = Config()
    c.CourseDirectory.root = str(course.root)
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.db_url = course.db_url
    c.Execute.timeout = cell_timeout
    c.Execute.kernel_name = "python3"
    c.Execute.interrupt_on_timeout = True
    c.OverwriteCells.add_missing_cells = True
    c.LimitOutput.max_lines = 200
    c.LimitOutput.max_traceback = 60
    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "autograder.grading.feedback.HideHiddenTests",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    c.HTMLExporter.sanitize_html = True  # feedback: no student HTML or JavaScript runs when a page is opened
    for key, value in (extra or {}).items():
        section, name = key.split(".", 1)
        setattr(c[section], name, value)
    return c


def write_nbgrader_config(course: CourseDir, cell_timeout: int = 30) -> Path:
    """Write ``nbgrader_config.py`` in the course folder with the same settings as :func:`nbgrader_config`.

    So that nbgrader's own tools (the command line, Formgrader) behave as ``backprop-course`` does.
    """
    cfg = nbgrader_config(course, cell_timeout=cell_timeout)
    lines = ["# Written by `backprop-course release`: the settings backprop-course grades with.",
             "c = get_config()  # noqa: F821"]
    default_db = f"sqlite:///{course.root / 'gradebook.db'}"
    for section in sorted(cfg):
        for name, value in sorted(cfg[section].items()):
            if section == "CourseDirectory" and (name == "root" or value == default_db):
                continue  # the folder this file is in, and nbgrader's default gradebook in it
            lines.append(f"c.{section}.{name} = {value!r}")
    path = course.root / "nbgrader_config.py"
    path.write_text("\n".join(lines) + "\n")
    if _has_password(course.db_url):
        path.chmod(0o600)  # the gradebook URL holds a password: keep it from other users of this machine
    return path


def _has_password(db_url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        return bool(urlsplit(db_url).password)
    except ValueError:
        return False


def nbgrader_api(course: CourseDir, **config: Any):
    """An ``nbgrader.apps.NbGraderAPI`` for ``course`` with :func:`nbgrader_config` settings."""
    _ensure_bin_on_path()
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    cfg = nbgrader_config(course, **config)
    coursedir = CourseDirectory(config=cfg)
    return NbGraderAPI(coursedir=coursedir, config=cfg)


def _ensure_bin_on_path() -> None:
    """nbgrader runs ``alembic`` by name when it creates a gradebook: put this Python's bin/ on PATH."""
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
