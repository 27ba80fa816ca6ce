"""Grading speed: plain `nbgrader autograde` against `backprop-course grade --workers 2`, same class, same run.

A synthetic class (default 40 students) across every graded assignment of the course, students cycling
through correct, partly wrong and blank submissions generated from the source notebooks. Both graders
start from identical copies of the same released course; the script prints both wall times, the ratio,
and whether every score is identical.

    .venv/bin/python -m benchmarks.grading [--students 40] [--workers 2]
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

from autograder.commands.grade import grade, load_results
from autograder.commands.release import release
from autograder.commands.sample_class import make_sample_class
from autograder.coursedir.course import CourseDir

BIN = Path(sys.executable).parent
PHASES = ("sandbox start", "student cells", "checks", "feedback", "record")


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
    from autograder.coursedir.database import open_gradebook

    out = {}
    with open_gradebook(course.db_url) as gb:
        for assignment in course.assignments():
            for sub in gb.assignment_submissions(assignment):
                out[(sub.student.id, assignment)] = round(sum(g.auto_score or 0 for nb in sub.notebooks
                                                              for g in nb.grades), 6)
    return out


def timed_grade(course: CourseDir, label: str, workers: int, every: int = 40, **options) -> float:
    """``grade(course, workers=workers, **options)``; prints every ``every``-th progress line; wall seconds."""
    done = [0]

    def tick(msg: str) -> None:
        done[0] += 1
        if done[0] % every == 0:
            print(f"  {label}: {msg}", flush=True)

    start = time.perf_counter()
    grade(course, workers=workers, progress=tick, **options)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-in-kernel", action="store_true",
                        help="leave out the --no-verify row (nbgrader's in-kernel execution, sandboxed)")
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

        phases: dict[str, list[float]] = {}

        def ours(name: str, **options) -> tuple[float, dict]:
            course = CourseDir.at(Path(tmp) / name)
            shutil.copytree(base.root, course.root, dirs_exist_ok=True)
            seconds = timed_grade(course, name, args.workers, **options)
            results = load_results(course)
            if options.get("verify"):
                for r in results:
                    if not r.status.ok:
                        print(f"  needs attention: {r.student} {r.assignment}: {str(r.status)[:300]}", flush=True)
                    for phase, value in (r.phases or {}).items():
                        phases.setdefault(phase, []).append(value)
            return seconds, {(r.student, r.assignment): round(r.score, 6) for r in results}

        t_full, full_scores = ours("ours-full", verify=True)
        print(f"  one run: {t_full:.1f} s", flush=True)
        plain = CourseDir.at(Path(tmp) / "plain")
        shutil.copytree(base.root, plain.root, dirs_exist_ok=True)
        start = time.perf_counter()
        for assignment in plain.assignments():
            subprocess.run([str(BIN / "nbgrader"), "autograde", assignment, "--force", "--create",
                            f"--CourseDirectory.root={plain.root}", "--log-level=ERROR"],
                           cwd=plain.root, env=env, check=False, capture_output=True)
        t_plain = time.perf_counter() - start
        plain_scores = nbgrader_scores(plain)

        t_fast, fast_scores = ours("ours-no-verify", verify=False) if not args.skip_in_kernel else (0.0, {})

    n = n_submissions
    same_fast = args.skip_in_kernel or (plain_scores == fast_scores and len(fast_scores) == n)
    same_full = plain_scores == full_scores and len(full_scores) == n
    print()
    print("| grader | submissions | wall time (s) | per submission (s) | scores identical to nbgrader |")
    print("|---|---|---|---|---|")
    print(f"| nbgrader autograde (sequential) | {len(plain_scores)} | {t_plain:.1f} | {t_plain / n:.2f} | - |")
    print(f"| backprop-course grade --workers {args.workers} --no-verify | {len(fast_scores)} | {t_fast:.1f} | "
          f"{t_fast / n:.2f} | {'yes' if same_fast else 'NO'} |")
    print(f"| backprop-course grade --workers {args.workers} (one run, judged outside) | {len(full_scores)} | "
          f"{t_full:.1f} | {t_full / n:.2f} | {'yes' if same_full else 'NO'} |")
    if t_fast:
        print(f"\nspeed-up of the parallel pipeline over nbgrader: {t_plain / t_fast:.2f}x")
    print(f"one run judged outside the student's process: {t_plain / t_full:.2f}x nbgrader's speed "
          + (f"({(t_full - t_fast) * args.workers / n:+.2f} s of worker time per submission against in-kernel "
             "grading)" if t_fast else ""))
    print("\nper submission, one worker, with the one-run grading (mean seconds):")
    print("| " + " | ".join(PHASES) + " |")
    print("|" + "---|" * len(PHASES))
    print("| " + " | ".join(f"{sum(phases.get(p, [0])) / max(len(phases.get(p, [])), 1):.2f}" for p in PHASES) + " |")
    whole = phases.get("sandbox start, whole", [])
    if whole:  # the host is started before nbgrader restores cells: "sandbox start" is only what grading waited
        print(f"sandbox start from the host's launch (partly overlapped with record): {sum(whole) / len(whole):.2f}")
    same = same_fast and same_full
    if not same:
        for label, scores in (("no-verify", fast_scores), ("full", full_scores))[args.skip_in_kernel:]:
            diff = {k: (plain_scores.get(k), scores.get(k)) for k in set(plain_scores) | set(scores)
                    if plain_scores.get(k) != scores.get(k)}
            if diff:
                print(f"differences (nbgrader, {label}):", dict(sorted(diff.items())[:10]))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
