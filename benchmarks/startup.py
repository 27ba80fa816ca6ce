"""How fast the command starts: ``backprop-course --help`` wall time and what ``import autograder.cli`` loads.

Usage::

    .venv/bin/python -m benchmarks.startup            # --runs 5

Prints, for ``--help``, the wall time of each run (a fresh process each: what a student or instructor
waits) with the median, and for ``import autograder.cli`` the number of modules imported (``-X importtime``
lines), their total import time and whether nbgrader, nbformat or jsonschema were among them.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("nbgrader", "nbformat", "jsonschema")


def help_times(runs: int) -> list[float]:
    """Wall seconds of ``backprop-course --help``, one fresh process per run."""
    exe = Path(sys.executable).parent / "backprop-course"
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(exe), "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def import_profile() -> tuple[int, float, list[str]]:
    """``(modules imported, their cumulative import seconds, heavy packages loaded)`` for ``import autograder.cli``."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import autograder.cli"],
                         capture_output=True, text=True, check=True).stderr
    rows = [line.split("|") for line in out.splitlines() if line.startswith("import time:") and "|" in line]
    rows = [r for r in rows if r[1].strip().isdigit()]
    names = [r[2].strip() for r in rows]
    total_us = sum(int(r[0].split(":")[1]) for r in rows)  # self times add up to the whole
    heavy = sorted({n.split(".")[0] for n in names} & set(HEAVY))
    return len(names), total_us / 1e6, heavy


def main(argv: list[str] | None = None) -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of --help (default 5)")
    args = parser.parse_args(argv)
    times = help_times(args.runs)
    count, seconds, heavy = import_profile()
    print(f"backprop-course --help: {', '.join(f'{t:.2f}' for t in times)} s; median {statistics.median(times):.2f} s")
    print(f"import autograder.cli: {count} modules, {seconds:.2f} s of imports; "
          f"loads {', '.join(heavy) if heavy else 'none of ' + ', '.join(HEAVY)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
