"""`backprop-course release`: the student version of every assignment, plus one zip each for an LMS.

Next to the zips, ``release/backprop_course_lib-<version>-py3-none-any.whl`` holds ``course_lib`` (the
notebooks' library; it never holds a graded answer) for students who work on their own machine: one
``pip install backprop_course_lib-<version>-py3-none-any.whl`` (the start-here notebook says so). The
wheel is written directly (it is a zip with three metadata files), so releasing needs no network and no
build tools.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

from autograder.coursedir.course import (
    NOTEBOOKS_DIR,
    CourseDir,
    CourseError,
    nbgrader_api,
    source_assignments,
    write_nbgrader_config,
)
from autograder.coursedir.database import ensure_gradebook
from autograder.coursedir.deadlines import read_deadlines
from autograder.coursedir.nbgrader_log import failure_cause
from autograder.coursedir.released import record_release
from autograder.coursedir.roster import extension_keys
from autograder.coursedir.wheel import STUDENT_REQUIREMENTS, build_course_lib_wheel
from autograder.fsutil import atomic_path
from autograder.grading.record import refresh_record

__all__ = ["STUDENT_REQUIREMENTS", "build_course_lib_wheel", "release", "sync_source"]

_IGNORE = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc", ".*")


def sync_source(course: CourseDir, notebooks: Path = NOTEBOOKS_DIR) -> list[str]:
    """Copy every assignment folder of ``notebooks`` into ``course.source`` (replacing older copies).

    Returns the assignment names, including ungraded ones (the start-here notebook is released too).
    """
    names = source_assignments(notebooks, graded_only=False)
    if not names:
        raise CourseError(
            f"no assignments found in {notebooks}: expected folders like notebooks/01-chain-rule/*.ipynb"
        )
    course.source.mkdir(parents=True, exist_ok=True)
    for name in names:
        dest = course.source / name
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(notebooks / name, dest, ignore=_IGNORE)
    return names


def _zip_folder(folder: Path, zip_path: Path) -> None:
    with atomic_path(zip_path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, Path(folder.name) / path.relative_to(folder))


def release(
    course: CourseDir,
    notebooks: Path = NOTEBOOKS_DIR,
    progress: Callable[[str], None] = print,
) -> list[Path]:
    """Build ``course.release/<assignment>/`` for every assignment with nbgrader, and a zip of each.

    Solutions are replaced by stubs and hidden tests removed (nbgrader ``generate_assignment``);
    the assignments are recorded in the gradebook; due dates from ``deadlines.toml`` are written there
    too. Writes the ``course_lib`` wheel next to the zips. Returns the zip files.
    """

    ensure_gradebook(course.db_url)  # an unreachable or misconfigured database: one clear line, nothing written
    read_deadlines(course.deadlines_file, None, extension_keys(course))  # a mistake: one line, nothing written
    names = sync_source(course, notebooks)
    write_nbgrader_config(course)
    api = nbgrader_api(course)
    zips = []
    for i, name in enumerate(names, 1):
        progress(f"[{i}/{len(names)}] releasing {name}")
        result = api.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            # nbgrader's own error says only "Please see the above traceback": the cause is in its log
            detail = failure_cause(result.get("log") or "") or (
                result.get("error") or result.get("log") or "").strip().splitlines()[-5:]
            raise CourseError(f"nbgrader could not release {name}:\n  " + "\n  ".join(detail)
                              + f"\n(`backprop-course lint-source {notebooks / name}` names the cell and the fix)")
        folder = course.release / name
        zip_path = course.release / f"{name}.zip"
        _zip_folder(folder, zip_path)
        zips.append(zip_path)
    record_release(course, notebooks, names)  # `grade` compares the notebooks with it (a test fixed since)
    for problem in refresh_record(course):  # due dates into the gradebook (and any existing submission's penalty)
        progress(f"deadlines: {problem}")
    wheel = build_course_lib_wheel(course.release)
    progress(f"course_lib for students' own machines: {wheel} (pip install {wheel.name})")
    return zips
