"""Grading speed: plain `nbgrader autograde` against `backprop-course grade --workers 2`, same class, same run.

A synthetic class (default 40 students) across every graded assignment of the course, students cycling
through correct, partly wrong and blank submissions generated from the source notebooks. Both graders
start from identical copies of the same released course; the script prints both wall times, the ratio,
and whether every score is identical.

    .venv/bin/python benchmarks/grading.py [--students 40] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.course import COURSE_ID, CourseDir
from autograder.grade import grade, load_results
from autograder.release import release
from autograder.sample_class import make_sample_class

BIN = Path(sys.executable).parent


def make_class(course: CourseDir, students: int) -> None:
    """Fill ``course.submitted`` with ``students`` students (each kind repeated under new ids)."""
    kinds = ["correct", "partly-wrong", "blank"]
    with tempfile.TemporaryDirectory() as tmp:
        templates = Path(tmp)
        make_sample_class(course.release, course.source, templates, course.assignments(), kinds)
        made = sorted(p for p in templates.iterdir())
        for i in range(students):
            src = made[i % len(made)]
            dest = course.submitted / f"student{i + 1:03d}"
            shutil.copytree(src, dest)
            for folder in dest.iterdir():
                (folder / "timestamp.txt").write_text("2026-11-27 12:00:00.000000 UTC\n")


def nbgrader_scores(course: CourseDir) -> dict[tuple[str, str], float]:
    """Total auto score per (student, assignment) from the course gradebook."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(course.db_url, COURSE_ID) as gb:
        for assignment in course.assignments():
            for sub in gb.assignment_submissions(assignment):
                out[(sub.student.id, assignment)] = round(sum(g.auto_score or 0 for nb in sub.notebooks
                                                              for g in nb.grades), 6)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    os.environ["PATH"] = env["PATH"]
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as tmp:
        base = CourseDir.at(Path(tmp) / "base")
        release(base, progress=lambda m: None)
        make_class(base, args.students)
        n_submissions = sum(1 for _ in base.submitted.glob("*/*"))
        print(f"class: {args.students} students x {len(base.assignments())} assignments = {n_submissions} "
              f"submissions; {os.cpu_count()} cores")

        plain = CourseDir.at(Path(tmp) / "plain")
        shutil.copytree(base.root, plain.root, dirs_exist_ok=True)
        start = time.perf_counter()
        for assignment in plain.assignments():
            subprocess.run([str(BIN / "nbgrader"), "autograde", assignment, "--force", "--create",
                            f"--CourseDirectory.root={plain.root}", "--log-level=ERROR"],
                           cwd=plain.root, env=env, check=False, capture_output=True)
        t_plain = time.perf_counter() - start
        plain_scores = nbgrader_scores(plain)

        ours = CourseDir.at(Path(tmp) / "ours")
        shutil.copytree(base.root, ours.root, dirs_exist_ok=True)
        done = [0]

        def tick(msg: str) -> None:
            done[0] += 1
            if done[0] % 20 == 0:
                print(f"  {msg}", flush=True)

        start = time.perf_counter()
        grade(ours, workers=args.workers, progress=tick)
        t_ours = time.perf_counter() - start
        our_scores = {(r.student, r.assignment): round(r.score, 6) for r in load_results(ours)}

    same = plain_scores == our_scores and len(our_scores) == n_submissions
    print()
    print("| grader | submissions | wall time (s) | per submission (s) |")
    print("|---|---|---|---|")
    print(f"| nbgrader autograde (sequential) | {len(plain_scores)} | {t_plain:.1f} | {t_plain / n_submissions:.2f} |")
    print(f"| backprop-course grade --workers {args.workers} | {len(our_scores)} | {t_ours:.1f} | "
          f"{t_ours / n_submissions:.2f} |")
    print(f"\nspeed-up: {t_plain / t_ours:.2f}x; identical scores: {'yes' if same else 'NO'}")
    if not same:
        diff = {k: (plain_scores.get(k), our_scores.get(k)) for k in set(plain_scores) | set(our_scores)
                if plain_scores.get(k) != our_scores.get(k)}
        print("differences (nbgrader, ours):", dict(sorted(diff.items())[:10]))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
