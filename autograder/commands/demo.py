"""`backprop-course demo`: the whole instructor cycle on a bundled sample class, in one command."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from autograder.commands.collect import collect
from autograder.commands.grade import grade
from autograder.commands.release import release
from autograder.commands.sample_class import KINDS, make_sample_class
from autograder.coursedir.course import NOTEBOOKS_DIR, CourseDir
from autograder.grading.record import final_results

__all__ = ["DEMO_MARK", "demo_folder", "grade_table", "run_demo"]


def grade_table(course: CourseDir) -> str:
    """Students down, assignments across, ``score/max`` in each cell and a note where something went wrong.

    The scores are the gradebook's final scores (manual grades and late penalties included).
    """
    results = final_results(course)
    assignments = course.assignments()
    by_key = {(r.student, r.assignment): r for r in results}
    students = sorted({r.student for r in results})
    width = max([len(s) for s in students] + [7])
    cols = [max(len(a), 9) for a in assignments]
    lines = ["student".ljust(width) + "  " + "  ".join(a.ljust(w) for a, w in zip(assignments, cols, strict=True))
             + "  total"]
    notes = []
    for s in students:
        cells, total, best = [], 0.0, 0.0
        for a, w in zip(assignments, cols, strict=True):
            r = by_key.get((s, a))
            if r is None:
                cells.append("-".ljust(w))
                continue
            mark = "" if r.status.startswith("ok") else " !"
            cells.append(f"{r.score:g}/{r.max_score:g}{mark}".ljust(w))
            total, best = total + r.score, best + r.max_score
            if mark:
                notes.append(f"  {s}/{a}: {r.status}")
        lines.append(s.ljust(width) + "  " + "  ".join(cells) + f"  {total:g}/{best:g}")
    if notes:
        lines += ["", "! needs attention:", *notes]
    return "\n".join(lines)


DEMO_MARK = ".backprop-course-demo"


def demo_folder(candidates: tuple[str, ...] = ("course", "course-demo")) -> Path:
    """Where the demo builds its course: the first candidate that is missing, empty or an earlier demo.

    A folder holding anything else (an instructor's course) is never used; when every candidate does, a new
    temporary folder is.
    """
    for name in candidates:
        path = Path(name)
        if not path.exists() or (path.is_dir() and (not any(path.iterdir()) or (path / DEMO_MARK).exists())):
            return path
    return Path(tempfile.mkdtemp(prefix="backprop-course-demo-"))


def run_demo(course_dir: Path | None = None, workers: int | None = None) -> int:
    """Release the course, generate and collect a sample class, grade it and print the grade table."""
    start = time.perf_counter()
    root = Path(course_dir) if course_dir else demo_folder()
    course = CourseDir.at(root)
    (course.root / DEMO_MARK).write_text("a course built by `backprop-course demo`; it may build it again here\n")
    print(f"Demo course folder: {course.root}")
    print("\n1. Release: the student version of every assignment (solutions and hidden tests removed)")
    zips = release(course, NOTEBOOKS_DIR, progress=lambda m: print("  " + m, flush=True))
    print(f"  {len(zips)} zip(s) for an LMS in {course.release}")
    print(f"\n2. A sample class of {len(KINDS)} students, one of each kind (a broken kind hands in one assignment):")
    for kind, text in KINDS.items():
        print(f"  {kind:<13} {text}")
    incoming = course.root / "incoming"
    if incoming.exists():
        shutil.rmtree(incoming)
    make_sample_class(course.release, course.source, incoming, course.assignments(), broken_once=True)
    print("\n3. Collect: file each notebook under submitted/<student>/<assignment>/")
    report = collect(course, incoming)
    print("  " + report.summary().splitlines()[0])
    for line in report.skipped:
        print(f"  not placed: {line}")
    print("\n4. Grade: nbgrader autograde, in parallel, with feedback for each student")
    summary = grade(course, workers=workers, force=True, progress=lambda m: print("  " + m, flush=True))
    print(f"  graded {summary.graded} submission(s) in {summary.seconds:.1f} s")
    print("\n5. The grade table (grades.csv has one column per graded cell)\n")
    print(grade_table(course))
    example = next(iter(sorted(course.feedback.glob("*/*/*.html"))), None)
    print(f"\nGrades: {course.grades_csv}")
    print(f"Feedback for each student: {course.feedback}/<student>/<assignment>/<notebook>.html"
          + (f"\n  for example {example}" if example else ""))
    flag = "" if course.root == Path("course").resolve() else f" --course-dir {course.root}"
    print(f"\nThe demo course stays in {course.root}. Next: `backprop-course report{flag}`, "
          f"`backprop-course export{flag} --format canvas`, and `backprop-course formgrader{flag}` for "
          "manual grading in Formgrader (docs/instructor.md).")
    print(f"Done in {time.perf_counter() - start:.0f} s.")
    return 0
