"""The instructor's course folder: where things live, nbgrader's configuration, and its API.

Layout (nbgrader's own)::

    DIR/source/<assignment>/<notebook>.ipynb       copied from the repository's notebooks/
    DIR/release/<assignment>/...  and <assignment>.zip
    DIR/submitted/<student>/<assignment>/...       filed by `collect`
    DIR/autograded/<student>/<assignment>/...      written by `grade`
    DIR/feedback/<student>/<assignment>/*.html     written by `grade`
    DIR/gradebook.db                               nbgrader's SQLite gradebook (or --db URL)
    DIR/grades.csv, DIR/report.txt, DIR/report.png, DIR/grades-<lms>.csv
    DIR/deadlines.toml                             due dates and extensions (the instructor's)
    DIR/students.csv                               student folder -> the LMS's own id (from `collect`)
    DIR/.grading/                                  state of `grade`: results of each submission
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.coursedir.database import ensure_bin_on_path, normalise_db_url, use_in_process_schema_head
from autograder.errors import CourseError
from autograder.fsutil import atomic_write_text
from autograder.notebook.cells import CODE_STUB, is_graded
from autograder.notebook.metadata import validate_with_compiled_schemas
from autograder.settings import COURSE_ID

__all__ = [
    "BLOCK_BEGIN",
    "BLOCK_END",
    "CourseDir",
    "CourseError",
    "DEFAULT_COURSE_DIR",
    "NOTEBOOKS_DIR",
    "ensure_bin_on_path",
    "instructor_config",
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

    @property
    def deadlines_file(self) -> Path:
        """Due dates and extensions, written by the instructor (:mod:`autograder.coursedir.deadlines`)."""
        return self.root / "deadlines.toml"

    @property
    def students_csv(self) -> Path:
        """Which LMS id each student folder stands for (written by ``collect``; read by ``export``)."""
        return self.root / "students.csv"

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

    from autograder.notebook.worked import release_preprocessors  # imports nbgrader: only when a command needs it

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
        "autograder.grading.feedback_page.WrapLongLines",
    ]
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    c.GenerateAssignment.preprocessors = release_preprocessors()  # worked derivations stay out of releases
    c.HTMLExporter.sanitize_html = True  # feedback: no student HTML or JavaScript runs when a page is opened
    for key, value in (extra or {}).items():
        section, name = key.split(".", 1)
        setattr(c[section], name, value)
    return c


BLOCK_BEGIN = "# >>> backprop-course settings: rewritten by `backprop-course release`; edit outside this block >>>"
BLOCK_END = "# <<< backprop-course settings <<<"
_OLD_HEADER = "# Written by `backprop-course release`"  # the whole-file format of earlier versions
_SETTING = re.compile(r"^\s*c\.([A-Za-z_]\w*)\.([A-Za-z_]\w*)\s*=")


def write_nbgrader_config(course: CourseDir, cell_timeout: int = 30) -> Path:
    """Write backprop-course's settings into ``nbgrader_config.py``, keeping everything the instructor wrote.

    So that nbgrader's own tools (the command line, Formgrader) behave as ``backprop-course`` does. The
    settings go in a marked block at the top of the file; every line outside the block (an instructor's
    late-penalty policy, say) is kept as it was, after the block, so the instructor's value of a setting
    wins for nbgrader's tools. A file written by an earlier version (one block-less file) is converted: its
    own settings become the block, any line an instructor added to it is kept.
    """
    cfg = nbgrader_config(course, cell_timeout=cell_timeout)
    block = [BLOCK_BEGIN, "c = get_config()  # noqa: F821"]
    default_db = f"sqlite:///{course.root / 'gradebook.db'}"
    ours = set()
    for section in sorted(cfg):
        for name, value in sorted(cfg[section].items()):
            if section == "CourseDirectory" and (name == "root" or value == default_db):
                continue  # the folder this file is in, and nbgrader's default gradebook in it
            block.append(f"c.{section}.{name} = {value!r}")
            ours.add((section, name))
    block.append(BLOCK_END)
    path = course.root / "nbgrader_config.py"
    kept = _instructor_lines(path.read_text(encoding="utf-8") if path.exists() else "", ours)
    text = "\n".join(block) + "\n"
    if any(line.strip() for line in kept):
        text += "\n" + "\n".join(kept).strip("\n") + "\n"
    private = _has_password(course.db_url) or (path.exists() and path.stat().st_mode & 0o077 == 0)
    # a gradebook URL with a password is kept from other users of this machine
    return atomic_write_text(path, text, mode=0o600 if private else None)


def _instructor_lines(text: str, ours: set[tuple[str, str]]) -> list[str]:
    """The lines of an existing ``nbgrader_config.py`` that backprop-course did not write."""
    lines = text.splitlines()
    if BLOCK_BEGIN in lines:
        start = lines.index(BLOCK_BEGIN)
        end = lines.index(BLOCK_END, start) if BLOCK_END in lines[start:] else len(lines) - 1
        return lines[:start] + lines[end + 1:]
    if lines and lines[0].startswith(_OLD_HEADER):  # an earlier version's file: drop what it wrote itself
        keep = []
        for line in lines[1:]:
            m = _SETTING.match(line)
            if line.strip() == "c = get_config()  # noqa: F821" or (m and (m.group(1), m.group(2)) in ours):
                continue
            if m and m.group(1) == "CourseDirectory" and m.group(2) == "db_url":
                continue  # written by an earlier release with another --db
            keep.append(line)
        return keep
    return lines


def instructor_config(course: CourseDir):
    """The settings in the course's ``nbgrader_config.py`` (a traitlets ``Config``; empty if there is none).

    A file that cannot be run is a CourseError naming it: nbgrader's own tools would fail on it too.
    """
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    path = course.root / "nbgrader_config.py"
    if not path.exists():
        return Config()
    try:
        return PyFileConfigLoader(path.name, path=str(course.root)).load_config()
    except Exception as exc:  # noqa: BLE001 - the instructor's Python file: any error it raises
        raise CourseError(f"{path} cannot be read ({type(exc).__name__}: {exc}); fix it (nbgrader's own "
                          "commands read it too)") from None


def _has_password(db_url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        return bool(urlsplit(db_url).password)
    except ValueError:
        return False


def nbgrader_api(course: CourseDir, **config: Any):
    """An ``nbgrader.apps.NbGraderAPI`` for ``course`` with :func:`nbgrader_config` settings."""
    ensure_bin_on_path()
    use_in_process_schema_head()  # nbgrader's apps create the gradebook without the `alembic` subprocess
    validate_with_compiled_schemas()  # nbgrader's cell-metadata check without rebuilding its validator per cell
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    cfg = nbgrader_config(course, **config)
    coursedir = CourseDirectory(config=cfg)
    return NbGraderAPI(coursedir=coursedir, config=cfg)
