"""Peak memory of `backprop-course collect` on a zip bomb: a ~1 MiB zip whose one member unpacks to 1 GiB.

Builds a two-assignment course and the bomb (plus one ordinary submission) in a temporary folder, then runs
``backprop-course collect`` in a child process of the Python that runs this script and prints the child's
peak resident memory (``ru_maxrss``), how long it took and what it filed. Run it with another checkout's
Python to compare (``/path/to/other/.venv/bin/python benchmarks/collect_memory.py``): the child imports
``autograder`` from the checkout this script lives in only when run from there.

    python benchmarks/collect_memory.py [--gib 1]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "tests"))

from testkit.pipeline_fixture import make_course_notebooks  # noqa: E402


def main() -> None:
    """Build the course and the bomb, collect it in a child process, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="size of the bomb's member once unpacked")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        notebooks = make_course_notebooks(root / "repo")
        course = root / "course"
        shutil.copytree(notebooks, course / "source")
        bomb = root / "bomb.zip"
        zeros = bytes(1024 * 1024)
        with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            with zf.open("eve/01-double/double.ipynb", "w", force_zip64=True) as member:
                for _ in range(int(args.gib * 1024)):
                    member.write(zeros)
            zf.write(notebooks / "01-double" / "double.ipynb", "finn/01-double/double.ipynb")
        code = ("import sys; from autograder.cli import main; "
                f"sys.exit(main(['collect', {str(bomb)!r}, '--course-dir', {str(course)!r}]))")
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=HERE)
        seconds = time.monotonic() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        filed = sorted(str(p.relative_to(course / "submitted")) for p in (course / "submitted").rglob("*.ipynb"))
        print(f"zip {bomb.stat().st_size / 2**20:.2f} MiB, member {args.gib:g} GiB unpacked")
        print(f"collect: exit {proc.returncode}, {seconds:.1f} s, peak resident memory {peak:.0f} MiB")
        print(f"filed: {filed}")
        for line in (proc.stdout + proc.stderr).splitlines():
            if "NOT PLACED" in line or "Error" in line:
                print(" ", line[:200])


if __name__ == "__main__":
    main()
