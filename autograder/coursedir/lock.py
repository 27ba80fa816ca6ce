"""One ``backprop-course grade`` at a time on a course folder.

Two grade runs on one course would interleave their writes to the results, ``grades.csv`` and the
gradebook. :func:`grade_lock` holds an OS file lock (the ``filelock`` package: ``flock`` on POSIX, released by
the kernel if the process dies, so a crash leaves no stale lock) on ``DIR/.grading/grade.lock`` for the whole
run, and writes who holds it (process id, host, start time, command line) next to it in
``grade.lock.json``. A second run waits :data:`WAIT_SECONDS` for the first, then stops with a
:class:`GradeRunning` error that names the lock file and the other run.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from autograder.errors import CourseError
from autograder.fsutil import atomic_write_text

if TYPE_CHECKING:
    from autograder.coursedir.course import CourseDir

__all__ = ["WAIT_SECONDS", "GradeRunning", "grade_lock", "holds_grade_lock", "lock_path"]

WAIT_SECONDS = 5.0
P = ParamSpec("P")
R = TypeVar("R")


class GradeRunning(CourseError):
    """Another ``grade`` run holds the course's lock."""


def lock_path(course: CourseDir) -> Path:
    """The lock file of ``course``'s grade runs."""
    return course.state / "grade.lock"


def _holder(info: Path) -> str:
    try:
        data = json.loads(info.read_text(encoding="utf-8"))
        return (f"pid {data['pid']} on {data['host']}, started {data['started']}: "
                f"{data['command']}")
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not said who it is"


@contextlib.contextmanager
def grade_lock(course: CourseDir, wait: float | None = None) -> Iterator[Path]:
    """Hold ``course``'s grade lock for the block; :class:`GradeRunning` if another run keeps it ``wait`` s.

    ``wait`` defaults to :data:`WAIT_SECONDS`.
    """
    from filelock import FileLock, Timeout

    wait = WAIT_SECONDS if wait is None else wait
    path = lock_path(course)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = path.with_name(path.name + ".json")
    lock = FileLock(path, thread_local=False)
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise GradeRunning(
            f"another `backprop-course grade` is running on this course ({_holder(info)}); it holds {path}. "
            f"Wait for it to finish (this one waited {wait:g} s), or stop it, then run grade again"
        ) from None
    try:
        atomic_write_text(info, json.dumps({
            "pid": os.getpid(), "host": socket.gethostname(),
            "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python",
        }))
        yield path
    finally:
        info.unlink(missing_ok=True)
        lock.release()


def holds_grade_lock(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a function whose first argument is the CourseDir: it runs holding :func:`grade_lock`."""

    @functools.wraps(func)
    def locked(*args: P.args, **kwargs: P.kwargs) -> R:
        course = args[0] if args else kwargs["course"]
        with grade_lock(course):  # type: ignore[arg-type]
            return func(*args, **kwargs)

    return locked
