"""Grading into PostgreSQL: `backprop-course grade` with 1 and 2 workers into PostgreSQL, and 2 into SQLite.

A synthetic class (default 25 students x the 4 graded assignments = 100 submissions, made by
``benchmarks/grading.py``'s ``make_class``) is graded three times from identical copies of one released
course, in the same run: into a PostgreSQL database with ``--workers 1``, into another with ``--workers 2``,
and into SQLite (the default gradebook) with ``--workers 2``. The PostgreSQL server is a throwaway one
started by ``testkit/pgserver.py`` (Debian's ``postgresql`` package must be installed). The script prints the
wall time and throughput of each and checks that every score, read back from each gradebook with
nbgrader's ``Gradebook`` API, is identical; it exits 1 if not.

    .venv/bin/python -m benchmarks.grading_pg [--students 25]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from autograder.commands.release import release  # noqa: E402
from autograder.coursedir.course import CourseDir  # noqa: E402
from benchmarks.grading import make_class, nbgrader_scores, timed_grade  # noqa: E402
from testkit.pgserver import PostgresServer  # noqa: E402

BIN = Path(sys.executable).parent


def _run(base: CourseDir, folder: Path, db_url: str | None, workers: int) -> tuple[float, dict]:
    """Grade a copy of ``base``'s class in ``folder`` into ``db_url``; (wall seconds, gradebook scores)."""
    course = CourseDir.at(folder, db_url)
    if db_url:
        release(course, progress=lambda m: None)  # records the assignments in that database
        shutil.copytree(base.submitted, course.submitted)
    else:
        shutil.copytree(base.root, course.root, dirs_exist_ok=True)
    return timed_grade(course, folder.name, workers, every=25), nbgrader_scores(course)


def main() -> int:
    """Run the three gradings, print the table; 0 when all scores agree."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=25)
    args = parser.parse_args()
    os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    with tempfile.TemporaryDirectory(prefix="grading-pg-bench-") as tmp, PostgresServer() as server:
        base = CourseDir.at(Path(tmp) / "base")
        release(base, progress=lambda m: None)
        make_class(base, args.students)
        n = sum(1 for _ in base.submitted.glob("*/*"))
        version = server.sql("SHOW server_version")
        print(f"class: {args.students} students x {len(base.assignments())} assignments = {n} submissions; "
              f"{os.cpu_count()} cores; PostgreSQL {version} on 127.0.0.1:{server.port}")
        runs = [
            ("PostgreSQL", 1, server.create_database("bench_w1")),
            ("PostgreSQL", 2, server.create_database("bench_w2")),
            ("SQLite", 2, None),
        ]
        results = []
        for label, workers, url in runs:
            seconds, scores = _run(base, Path(tmp) / f"{label.lower()}-w{workers}", url, workers)
            results.append((label, workers, seconds, scores))

    reference = results[-1][3]
    print()
    print("| gradebook | workers | submissions | wall time (s) | submissions / minute | scores identical |")
    print("|---|---|---|---|---|---|")
    same = True
    for label, workers, seconds, scores in results:
        ok = scores == reference and len(scores) == n
        same &= ok
        print(f"| {label} | {workers} | {len(scores)} | {seconds:.1f} | {60 * n / seconds:.1f} | "
              f"{'yes' if ok else 'NO'} |")
    if not same:
        for label, workers, _, scores in results:
            diff = {k: (reference.get(k), scores.get(k)) for k in set(reference) | set(scores)
                    if reference.get(k) != scores.get(k)}
            if diff:
                print(f"differences (SQLite, {label} x{workers}):", dict(sorted(diff.items())[:10]))
    print(f"\nscores identical across all three gradebooks: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
