"""The ``course_lib`` wheel students install on their own machines (``release/`` and the site's downloads).

``backprop_course_lib-<version>-py3-none-any.whl`` holds ``course_lib`` (the notebooks' library), with
``course_lib/answers`` behind the teaching guard: the demos that draw a backward pass or train a network on a
student's machine need them, and no grade is decided there (README, "Grading is protected"; the grading
sandbox leaves them out). It is written directly (a zip with three metadata files), so building it needs
no network and no build tools.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import course_lib
from autograder.fsutil import atomic_path

__all__ = ["STUDENT_REQUIREMENTS", "build_course_lib_wheel"]

#: What a student's machine needs besides ``course_lib`` (the same ranges as pyproject.toml)
STUDENT_REQUIREMENTS = ("numpy>=1.26,<3", "matplotlib>=3.8,<4", "ipywidgets>=8.1,<9", "jupyterlab>=4.2,<5")


def build_course_lib_wheel(dest: Path) -> Path:
    """Write ``dest/backprop_course_lib-<version>-py3-none-any.whl`` holding the ``course_lib`` package."""
    version = course_lib.__version__
    name = "backprop_course_lib"
    package = Path(course_lib.__file__).parent
    dist_info = f"{name}-{version}.dist-info"
    files: list[tuple[str, bytes]] = []
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" not in path.parts:
            files.append((f"course_lib/{path.relative_to(package).as_posix()}", path.read_bytes()))
    metadata = "\n".join([
        "Metadata-Version: 2.1", f"Name: {name.replace('_', '-')}", f"Version: {version}",
        "Summary: The library of the backprop-course notebooks (course_lib), for students' own machines",
        "Requires-Python: >=3.11", *(f"Requires-Dist: {r}" for r in STUDENT_REQUIREMENTS), "",
    ])
    wheel = "Wheel-Version: 1.0\nGenerator: backprop-course release\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files += [(f"{dist_info}/METADATA", metadata.encode()), (f"{dist_info}/WHEEL", wheel.encode())]
    record = []
    for arcname, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{arcname},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / f"{name}-{version}-py3-none-any.whl"
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in [*files, (f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode())]:
            zf.writestr(zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0)), data,
                        compress_type=zipfile.ZIP_DEFLATED)
    return out
