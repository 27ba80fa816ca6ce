"""What ``release`` released: the source notebooks folder and a fingerprint of each assignment in it.

``release`` copies each assignment of the instructor's notebooks folder into ``course/source/`` and
records here (``.grading/released.json``) which folder it read and a digest of each assignment's files.
``grade`` grades against ``course/source/``; before it does, :func:`changed_since_release` compares the
notebooks folder with the record, so a test fixed in the notebooks but not yet released is noticed
instead of silently graded with the old test.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path

from autograder.coursedir.course import CourseDir
from autograder.fsutil import atomic_write_text
from autograder.settings import default_course_dir

__all__ = ["changed_since_release", "folder_digest", "record_release", "release_command"]


def folder_digest(folder: Path) -> str:
    """A digest of every file's name and bytes under ``folder`` (checkpoints and hidden files left out)."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if path.suffix == ".pyc" or any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        h.update(str(rel).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _record_path(course: CourseDir) -> Path:
    return course.state / "released.json"


def record_release(course: CourseDir, notebooks: Path, assignments: list[str]) -> None:
    """Remember that ``assignments`` were released from ``notebooks`` as they are now (atomically)."""
    data = {"notebooks": str(Path(notebooks).resolve()),
            "assignments": {name: folder_digest(Path(notebooks) / name) for name in assignments}}
    path = _record_path(course)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True))


def changed_since_release(course: CourseDir, assignments: list[str]) -> tuple[Path | None, list[str]]:
    """The notebooks folder last released and which of ``assignments`` changed there since.

    Nothing is reported when no release was recorded (an older course folder) or the folder is gone.
    """
    try:
        data = json.loads(_record_path(course).read_text())
        notebooks, digests = Path(data["notebooks"]), dict(data["assignments"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, []
    if not notebooks.is_dir():
        return notebooks, []
    changed = [name for name in assignments
               if name in digests and (notebooks / name).is_dir() and folder_digest(notebooks / name) != digests[name]]
    return notebooks, changed


def release_command(course: CourseDir, notebooks: Path) -> str:
    """The ``release`` command line that releases ``notebooks`` into ``course`` again, as a person types it."""
    parts = ["backprop-course", "release", "--notebooks", _short(notebooks)]
    if course.root != Path(default_course_dir()).resolve():
        parts += ["--course-dir", _short(course.root)]
    return " ".join(shlex.quote(p) for p in parts)


def _short(path: Path) -> str:
    """``path`` relative to the working folder when it is inside it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path.resolve())
