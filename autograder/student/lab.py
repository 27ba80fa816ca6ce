"""`backprop-course lab`: JupyterLab for students, without nbgrader's instructor tools.

Installing nbgrader (an instructor's dependency of this package) enables its server extensions and its
JupyterLab extension for every ``jupyter lab`` in the environment: the *Nbgrader* menu, Formgrader, the
*Create Assignment* sidebar, the course and assignment lists. Students need none of it (they hand in
through the LMS and check with ``backprop-course check``), and Formgrader would show them an instructor's
page. This command starts JupyterLab with an extra configuration folder, put first on
``JUPYTER_CONFIG_PATH``, that

* turns off nbgrader's server extensions (``jupyter_server_config.d/``): ``/formgrader`` and the other
  nbgrader URLs do not exist, and
* disables nbgrader's JupyterLab extension (``labconfig/page_config.json``): no menu, commands, launcher
  items or sidebars.

Everything else is the environment's own JupyterLab and the user's own settings.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from jupyter_core.paths import jupyter_config_path

from autograder.errors import CourseError
from autograder.processes import run_foreground

__all__ = [
    "NBGRADER_LAB_EXTENSIONS",
    "nbgrader_server_extensions",
    "run_student_lab",
    "student_lab_command",
    "student_lab_env",
    "write_student_config",
]

#: nbgrader's JupyterLab (and Notebook 7) extension package.
NBGRADER_LAB_EXTENSIONS = ("@jupyter/nbgrader",)
#: nbgrader 0.9's server extensions, turned off even if no configuration file names them.
_KNOWN_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
)


def nbgrader_server_extensions() -> list[str]:
    """nbgrader's server extensions: the known ones plus any that a ``jupyter_server_config.d`` file enables."""

    found = set(_KNOWN_SERVER_EXTENSIONS)
    for folder in jupyter_config_path():
        for path in sorted(Path(folder, "jupyter_server_config.d").glob("*.json")):
            try:
                config = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            extensions = config.get("ServerApp", {}).get("jpserver_extensions", {})
            found.update(name for name in extensions if name.split(".")[0] == "nbgrader")
    return sorted(found)


def write_student_config(folder: Path) -> Path:
    """Write the student configuration (nbgrader's server and lab extensions off) into ``folder``."""
    folder = Path(folder)
    server = folder / "jupyter_server_config.d"
    server.mkdir(parents=True, exist_ok=True)
    (server / "backprop-course-student.json").write_text(json.dumps(
        {"ServerApp": {"jpserver_extensions": dict.fromkeys(nbgrader_server_extensions(), False)}}, indent=2))
    lab = folder / "labconfig"
    lab.mkdir(parents=True, exist_ok=True)
    (lab / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": dict.fromkeys(NBGRADER_LAB_EXTENSIONS, True)}, indent=2))
    return folder


def student_lab_env(config_folder: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for the student's JupyterLab: ``config_folder`` first on ``JUPYTER_CONFIG_PATH``."""
    env = dict(os.environ if base is None else base)
    paths = [str(config_folder)] + [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(paths)
    return env


def student_lab_command(folder: Path, jupyter_args: Sequence[str] = ()) -> list[str]:
    """The ``jupyter lab`` command line (this Python's JupyterLab) that opens ``folder``."""
    return [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={Path(folder).resolve()}", *jupyter_args]


def run_student_lab(folder: Path, jupyter_args: Sequence[str] = ()) -> int:
    """Run JupyterLab on ``folder`` without nbgrader's tools until it stops; returns its exit status.

    SIGTERM is passed on to JupyterLab (so that it shuts its kernels down); Ctrl+C reaches it directly.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CourseError(f"{folder} is not a folder: give the folder with your notebooks "
                          "(e.g. course/release after `backprop-course release`)")
    args = [a for a in jupyter_args if a != "--"]
    with tempfile.TemporaryDirectory(prefix="backprop-course-student-") as tmp:
        config = write_student_config(Path(tmp))
        print(f"JupyterLab for students in {folder.resolve()} (nbgrader's instructor tools are off)", flush=True)
        return run_foreground(student_lab_command(folder, args), env=student_lab_env(config))
