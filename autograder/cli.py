"""The ``backprop-course`` console command: one subcommand per step of running the course.

This is the one place that turns errors into messages and exit codes (see :func:`main`). Each subcommand's
module is imported inside its ``_run`` function on purpose: ``backprop-course --help`` and ``check`` then
start without loading nbgrader, nbconvert, SQLAlchemy and matplotlib for every other command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from autograder.coursedir.course import ensure_bin_on_path
from autograder.errors import CourseError
from autograder.settings import check_course_id, default_course_dir, default_db_url
from autograder.untrusted import for_terminal
from course_lib import __version__

__all__ = ["build_parser", "main"]


def _course_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--course-dir", type=Path, default=Path(default_course_dir()),
                   help="the course folder (default: $BPC_COURSE_DIR, else ./course, ignored by git)")
    p.add_argument("--db", metavar="URL", default=default_db_url(),
                   help="gradebook database URL, e.g. postgresql://user:password@host/dbname (default: "
                        "$BPC_GRADEBOOK_URL, else SQLite in the course folder; see docs/database.md)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="backprop-course",
        description="Run the backpropagation course: release, collect, grade, check, report, demo.",
    )
    parser.add_argument("--version", action="version", version=f"backprop-course {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("release", help="build the student version of every assignment (and one zip each)")
    _course_args(p)
    p.add_argument("--notebooks", type=Path, default=None, metavar="DIR",
                   help="the nbgrader source notebooks, one folder per assignment (default: the repository's "
                        "notebooks/; an installed package has none, e.g. on a hub: see docs/deploy.md)")
    p.set_defaults(run=_release)

    p = sub.add_parser("collect", help="file a folder or LMS zip of student notebooks under submitted/")
    p.add_argument("source", type=Path, help="a folder or .zip of student notebooks")
    p.add_argument("--assignment", default=None,
                   help="the assignment whose upload slot this download is (else the path or the zip's name says it)")
    p.add_argument("--accept-mismatch", action="append", default=[], metavar="STUDENT/ASSIGNMENT",
                   help="file STUDENT's notebook as ASSIGNMENT although it came through another slot (repeatable)")
    p.add_argument("--max-notebook-mb", type=float, default=50.0,
                   help="refuse a notebook larger than this once unpacked (default 50)")
    p.add_argument("--timezone", default="UTC", help="the time zone of zip entry times that carry none (default UTC)")
    _course_args(p)
    p.set_defaults(run=_collect)

    p = sub.add_parser("grade", help="autograde every new or changed submission; write grades.csv and feedback")
    _course_args(p)
    p.add_argument("--workers", type=int, default=None, help="submissions graded at once (default: the cores)")
    p.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--force", action="store_true", help="regrade submissions even if unchanged")
    p.add_argument("--cell-timeout", type=int, default=30, help="seconds one cell may run (default 30)")
    p.add_argument("--submission-timeout", type=float, default=600,
                   help="seconds one submission may take in all (default 600)")
    p.add_argument("--no-verify", action="store_true",
                   help="let nbgrader run the test cells in the student's kernel instead of judging them outside "
                        "the student's process (a submission that patches numpy or the checker can then raise "
                        "its own score)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run students' code without the bubblewrap sandbox (where none can be had; "
                        "grades.csv and the report mark such grades)")
    p.set_defaults(run=_grade)

    p = sub.add_parser("check", help="for students: run your notebook and see each exercise's points")
    p.add_argument("notebook", type=Path, help="your .ipynb file")
    p.set_defaults(run=_check)

    p = sub.add_parser("report", help="per-exercise averages, common mistakes, score histogram")
    _course_args(p)
    p.set_defaults(run=_report)

    p = sub.add_parser("export", help="the gradebook's final grades: grades.csv, or a file for Canvas or Moodle")
    _course_args(p)
    p.add_argument("--format", choices=["csv", "canvas", "moodle"], default="csv",
                   help="csv: grades.csv (default); canvas: grades-canvas.csv for Canvas's gradebook import; "
                        "moodle: grades-moodle.csv for Moodle's grade import (docs/instructor.md)")
    p.set_defaults(run=_export)

    p = sub.add_parser("formgrader", help="the instructor's JupyterLab on the course folder, opened at Formgrader")
    _course_args(p)
    p.add_argument("jupyter_args", nargs=argparse.REMAINDER,
                   help="options for jupyter lab (e.g. --port 9000 --no-browser)")
    p.set_defaults(run=_formgrader)

    p = sub.add_parser("demo", help="release, grade a bundled sample class and print the grade table")
    p.add_argument("--course-dir", type=Path, default=None,
                   help="where to build the demo (default: ./course, unless it holds other work)")
    p.add_argument("--workers", type=int, default=None, help="submissions graded at once (default: the cores)")
    p.set_defaults(run=_demo)

    p = sub.add_parser("train", help="train the notes' multi-path network and print a gradient table")
    p.add_argument("--steps", type=int, default=300, help="gradient-descent steps (default 300)")
    p.add_argument("--lr", type=float, default=2.0, help="learning rate η (default 2.0)")
    p.add_argument("--seed", type=int, default=0, help="seed for the data and the initial weights")
    p.set_defaults(run=_train)

    p = sub.add_parser("site", help="build the course as a static HTML site for self-paced readers")
    p.add_argument("--out", type=Path, default=Path("site"), help="the site folder (default: ./site)")
    p.add_argument("--jobs", type=int, default=2, help="notebooks executed at once (default 2)")
    p.set_defaults(run=_site)

    p = sub.add_parser("lab", help="for students: JupyterLab without nbgrader's instructor tools")
    p.add_argument("folder", type=Path, nargs="?", default=Path("."), help="the folder to open (default: .)")
    p.add_argument("jupyter_args", nargs=argparse.REMAINDER,
                   help="options for jupyter lab, after FOLDER (e.g. course/release --port 9000)")
    p.set_defaults(run=_lab)
    return parser


def _course(args: argparse.Namespace):
    from autograder.coursedir.course import CourseDir

    course = CourseDir.at(args.course_dir, args.db)
    print(f"course folder: {course.root}")
    return course


def _release(args: argparse.Namespace) -> int:
    from autograder.commands.release import release
    from autograder.coursedir.course import NOTEBOOKS_DIR

    notebooks = args.notebooks.expanduser() if args.notebooks else NOTEBOOKS_DIR
    if not notebooks.is_dir():
        raise CourseError(f"no source notebooks at {notebooks}: give their folder with --notebooks DIR "
                          "(an installed backprop-course holds none; docs/deploy.md says where they go on a hub)")
    zips = release(_course(args), notebooks)
    print(f"released {len(zips)} assignment(s): " + ", ".join(z.name for z in zips))
    return 0


def _collect(args: argparse.Namespace) -> int:
    from autograder.commands.collect import collect

    report = collect(_course(args), args.source, assignment=args.assignment, accept_mismatch=args.accept_mismatch,
                     max_notebook_bytes=int(args.max_notebook_mb * 1024 * 1024), timezone=args.timezone)
    print(report.summary())
    return 1 if report.skipped else 0


def _grade(args: argparse.Namespace) -> int:
    from autograder.commands.grade import grade

    course = _course(args)
    summary = grade(course, workers=args.workers, assignments=args.assignment, students=args.student,
                    force=args.force, cell_timeout=args.cell_timeout, submission_timeout=args.submission_timeout,
                    verify=not args.no_verify, sandbox=not args.no_sandbox)
    print(f"graded {summary.graded}, unchanged {summary.skipped}, in {summary.seconds:.1f} s; "
          f"grades: {course.grades_csv}; feedback: {course.feedback}")
    if summary.attention:
        print(f"{len(summary.attention)} submission(s) need your attention (status column of grades.csv):")
        for r in summary.attention:
            print(for_terminal(f"  {r.student}/{r.assignment}: {r.status}"))
        return 1
    return 0


def _check(args: argparse.Namespace) -> int:
    from autograder.student.check import run_check

    return run_check(args.notebook)


def _report(args: argparse.Namespace) -> int:
    from autograder.commands.report import make_report

    print(make_report(_course(args)))
    return 0


def _export(args: argparse.Namespace) -> int:
    from autograder.commands.export import export

    print(f"wrote {export(_course(args), args.format)}")
    return 0


def _formgrader(args: argparse.Namespace) -> int:
    from autograder.commands.formgrader import run_formgrader

    return run_formgrader(_course(args), args.jupyter_args)


def _demo(args: argparse.Namespace) -> int:
    from autograder.commands.demo import run_demo

    return run_demo(args.course_dir, args.workers)


def _train(args: argparse.Namespace) -> int:
    from autograder.reader.training_demo import run_training_demo

    return run_training_demo(steps=args.steps, lr=args.lr, seed=args.seed)


def _site(args: argparse.Namespace) -> int:
    from autograder.reader.site import build_site

    index = build_site(args.out, jobs=args.jobs)
    print(f"site: {index.resolve()} (open it in a browser, or serve the folder: "
          f"python -m http.server -d {args.out} -b 127.0.0.1 8000)")
    return 0


def _lab(args: argparse.Namespace) -> int:
    from autograder.student.lab import run_student_lab

    return run_student_lab(args.folder, args.jupyter_args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse ``argv`` and run the chosen subcommand; returns the exit status.

    Exit status: 0 all well; 1 something needs attention (the output says what); 2 a usage or setup error.
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # only `formgrader` passes options it does not know on, to jupyter lab
        if getattr(args, "command", None) != "formgrader":
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.jupyter_args = [*extra, *args.jupyter_args]
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    ensure_bin_on_path()  # nbgrader runs `alembic` (and Formgrader `jupyter`) by name: find ours
    try:
        check_course_id()
        return int(args.run(args))
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: everything graded so far is saved; run the same command again to finish",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
