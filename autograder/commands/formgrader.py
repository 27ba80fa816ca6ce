"""`backprop-course formgrader`: the instructor's JupyterLab on the course folder, opened at Formgrader.

nbgrader's Formgrader (manual grading, comments, the gradebook) is a JupyterLab extension that reads
``nbgrader_config.py`` from the folder JupyterLab starts in. This command starts this environment's
JupyterLab in the course folder (so it finds the configuration ``release`` wrote and the gradebook) and
opens ``/formgrader``. A manual grade given there is part of the record: ``backprop-course export`` and
``report`` show it, and the student's feedback page is written again with it.

Formgrader lists each student by the name the LMS gave (``collect`` keeps it; the record puts it in the
gradebook). Where nbgrader's exchange folder does not exist, the exchange is not used, and Formgrader
says so only when its "release" or "collect" button is pressed (:mod:`autograder.coursedir.exchange`).
SIGTERM stops JupyterLab and this command (:func:`autograder.processes.run_foreground`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from autograder.coursedir.course import CourseDir
from autograder.coursedir.exchange import exchange_in_use, unused_exchange_settings
from autograder.errors import CourseError
from autograder.processes import run_foreground

__all__ = ["formgrader_command", "run_formgrader"]


def formgrader_command(course: CourseDir, jupyter_args: Sequence[str] = ()) -> list[str]:
    """The ``jupyter lab`` command line that opens Formgrader for ``course`` (run it in ``course.root``)."""
    root = ["--allow-root"] if os.geteuid() == 0 and "--allow-root" not in jupyter_args else []  # containers
    exchange = [] if exchange_in_use(course) else unused_exchange_settings()  # no banner about a missing one
    return [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={course.root}",
            "--LabApp.default_url=/formgrader", *root, *exchange, *[a for a in jupyter_args if a != "--"]]


def run_formgrader(course: CourseDir, jupyter_args: Sequence[str] = ()) -> int:
    """Run the instructor's JupyterLab with Formgrader until it stops; returns its exit status."""
    if not (course.root / "nbgrader_config.py").exists():
        raise CourseError(f"{course.root} has no nbgrader_config.py: run `backprop-course release` first "
                          "(with the same --course-dir)")
    print(f"JupyterLab with nbgrader's Formgrader in {course.root} (Ctrl+C to stop)", flush=True)
    return run_foreground(formgrader_command(course, jupyter_args), cwd=course.root)
