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
from typing import Any

from autograder.coursedir.database import ensure_bin_on_path
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


def _add_release(sub: Any) -> None:
    """The ``release`` subcommand."""
    p = sub.add_parser("release", help="build the student version of every assignment (and one zip each)")
    _course_args(p)
    p.add_argument("--notebooks", type=Path, default=None, metavar="DIR",
                   help="the nbgrader source notebooks, one folder per assignment (default: the repository's "
                        "notebooks/; an installed package has none, e.g. on a hub: see docs/deploy.md)")
    p.set_defaults(run=_release)


def _add_collect(sub: Any) -> None:
    """The ``collect`` subcommand."""
    p = sub.add_parser("collect", help="file a folder or LMS zip of student notebooks under submitted/")
    p.add_argument("source", type=Path, help="a folder or .zip of student notebooks")
    p.add_argument("--assignment", default=None,
                   help="the assignment whose upload slot this download is (else the path or the zip's name says it)")
    p.add_argument("--accept-mismatch", action="append", default=[], metavar="STUDENT/ASSIGNMENT",
                   help="file STUDENT's notebook as ASSIGNMENT although it came through another slot (repeatable)")
    p.add_argument("--max-notebook-mb", type=float, default=50.0,
                   help="refuse a notebook larger than this once unpacked (default 50)")
    p.add_argument("--timezone", default="UTC",
                   help="the time zone of the Moodle worksheet's times and of --submitted-at (default UTC)")
    p.add_argument("--canvas-submissions", type=Path, action="append", default=[], metavar="JSON",
                   help="Canvas's submissions API answer for this assignment (repeatable: one file per page)")
    p.add_argument("--moodle-worksheet", type=Path, default=None, metavar="CSV",
                   help="Moodle's grading worksheet of this assignment: who each participant is, and when")
    p.add_argument("--student", default=None, help="whose notebook SOURCE is, when it is one (emailed) notebook")
    p.add_argument("--submitted-at", default=None, metavar="TIME",
                   help="the submission time you vouch for (e.g. \"2026-10-05 21:14\", read in --timezone)")
    p.add_argument("--ngshare", action="store_true",
                   help="SOURCE is what `nbgrader collect` fetched from the hub's ngshare exchange: who handed in "
                        "what, and when, is checked against ngshare's own record")
    _course_args(p)
    p.set_defaults(run=_collect)


def _add_roster(sub: Any) -> None:
    """The ``roster`` subcommand."""
    p = sub.add_parser("roster", help="write course/roster.csv from Canvas's gradebook export or Moodle's worksheet")
    p.add_argument("file", type=Path, help="the LMS's file (docs/instructor.md)")
    _course_args(p)
    p.set_defaults(run=_roster)


def _add_grade(sub: Any) -> None:
    """The ``grade`` subcommand."""
    p = sub.add_parser("grade", help="autograde every new or changed submission; write grades.csv and feedback")
    _course_args(p)
    p.add_argument("--workers", type=int, default=None, help="submissions graded at once (default: the cores)")
    p.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--part", metavar="K/N", default=None,
                   help="only the students in part K of N, for N grading machines sharing one PostgreSQL "
                        "gradebook (a fixed split by student id; docs/deploy.md)")
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


def _add_check(sub: Any) -> None:
    """The ``check`` subcommand."""
    p = sub.add_parser("check", help="for students: run your notebook and see each exercise's points")
    p.add_argument("notebook", type=Path, help="your .ipynb file")
    p.set_defaults(run=_check)


def _add_solutions(sub: Any) -> None:
    """The ``solutions`` subcommand."""
    p = sub.add_parser("solutions", help="write each closed assignment's worked derivations and model answers")
    _course_args(p)
    p.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    p.add_argument("--force", action="store_true", help="release them even before every student's due time")
    p.set_defaults(run=_solutions)


def _add_report(sub: Any) -> None:
    """The ``report`` subcommand."""
    p = sub.add_parser("report", help="per-exercise averages, common mistakes, score histogram")
    _course_args(p)
    p.set_defaults(run=_report)


def _add_export(sub: Any) -> None:
    """The ``export`` subcommand."""
    p = sub.add_parser("export", help="the gradebook's final grades: grades.csv, or a file for Canvas or Moodle")
    _course_args(p)
    p.add_argument("--format", choices=["csv", "canvas", "moodle"], default="csv",
                   help="csv: grades.csv (default); canvas: grades-canvas.csv for Canvas's gradebook import; "
                        "moodle: grades-moodle.csv for Moodle's grade import (docs/instructor.md)")
    p.add_argument("--lms-file", type=Path, default=None, metavar="CSV",
                   help="fill the LMS's own file: Canvas's gradebook export, or Moodle's grading worksheet")
    p.add_argument("--column", action="append", default=[], metavar="ASSIGNMENT=TITLE",
                   help="the Canvas column of ASSIGNMENT, by its header 'Title (id)' or exact title (repeatable)")
    p.add_argument("--assignment", default=None, help="the one assignment to export (a Moodle worksheet's)")
    p.set_defaults(run=_export)


def _add_formgrader(sub: Any) -> None:
    """The ``formgrader`` subcommand."""
    p = sub.add_parser("formgrader", help="the instructor's JupyterLab on the course folder, opened at Formgrader")
    _course_args(p)
    p.add_argument("jupyter_args", nargs=argparse.REMAINDER,
                   help="options for jupyter lab (e.g. --port 9000 --no-browser)")
    p.set_defaults(run=_formgrader)


def _add_demo(sub: Any) -> None:
    """The ``demo`` subcommand."""
    p = sub.add_parser("demo", help="release, grade a bundled sample class and print the grade table")
    p.add_argument("--course-dir", type=Path, default=None,
                   help="where to build the demo (default: ./course-demo, unless it holds other work)")
    p.add_argument("--workers", type=int, default=None, help="submissions graded at once (default: the cores)")
    p.set_defaults(run=_demo)


def _add_train(sub: Any) -> None:
    """The ``train`` subcommand."""
    p = sub.add_parser("train", help="train the notes' multi-path network and print a gradient table")
    p.add_argument("--steps", type=int, default=300, help="gradient-descent steps (default 300)")
    p.add_argument("--lr", type=float, default=2.0, help="learning rate η (default 2.0)")
    p.add_argument("--seed", type=int, default=0, help="seed for the data and the initial weights")
    p.set_defaults(run=_train)


def _add_site(sub: Any) -> None:
    """The ``site`` subcommand."""
    p = sub.add_parser("site", help="build the course as a static HTML site for self-paced readers")
    p.add_argument("--out", type=Path, default=Path("site"), help="the site folder (default: ./site)")
    p.add_argument("--jobs", type=int, default=2, help="notebooks executed at once (default 2)")
    p.add_argument("--no-solutions", action="store_true",
                   help="for a class: the exercises without solutions or worked derivations, no downloads "
                        "(default: the self-paced site, which holds the solutions and offers the notebooks)")
    p.set_defaults(run=_site)


def _add_lab(sub: Any) -> None:
    """The ``lab`` subcommand."""
    p = sub.add_parser("lab", help="for students: JupyterLab without nbgrader's instructor tools")
    p.add_argument("folder", type=Path, nargs="?", default=Path("."), help="the folder to open (default: .)")
    p.add_argument("jupyter_args", nargs=argparse.REMAINDER,
                   help="options for jupyter lab, after FOLDER (e.g. course/release --port 9000)")
    p.set_defaults(run=_lab)


def _add_lint_source(sub: Any) -> None:
    """The ``lint-source`` subcommand."""
    p = sub.add_parser("lint-source", help="for authors: check a source notebook's structure and how many "
                       "single mistakes its tests catch, graded for real (docs/authoring.md)")
    p.add_argument("path", type=Path, help="a source notebook (.ipynb) or an assignment folder of them")
    p.add_argument("--workers", type=int, default=2, help="submissions graded at once (default 2)")
    p.add_argument("--sample", type=int, default=None, help="grade a random sample of this many mistakes")
    p.add_argument("--structure-only", action="store_true", help="only the structure (seconds, no grading)")
    p.set_defaults(run=_lint_source)


def _add_new_exercise(sub: Any) -> None:
    """The ``new-exercise`` subcommand."""
    p = sub.add_parser("new-exercise", help="for authors: append a graded exercise with every part in place to a "
                       "source notebook (docs/authoring.md)")
    p.add_argument("notebook", type=Path, help="the source notebook (created if missing)")
    p.add_argument("--number", required=True, help="the exercise's number, e.g. 6.1")
    p.add_argument("--title", required=True, help="the exercise's title")
    p.add_argument("--function", required=True, help="the function the student writes, e.g. d_cube")
    p.add_argument("--expression", required=True, help="f(u) as Python, e.g. 'u**3'")
    p.add_argument("--derivative", required=True, help="the model solution f'(u) as Python, e.g. '3 * u**2'")
    p.add_argument("--points", type=float, default=2, help="the exercise's points (default 2)")
    p.add_argument("--uses", action="append", default=[], metavar="FUNCTION",
                   help="a function of an earlier exercise it calls: judged with that exercise's reference")
    p.set_defaults(run=_new_exercise)


# The subcommands, in the order --help lists them.
_SUBCOMMANDS = (
    _add_release,
    _add_collect,
    _add_roster,
    _add_grade,
    _add_check,
    _add_solutions,
    _add_report,
    _add_export,
    _add_formgrader,
    _add_demo,
    _add_train,
    _add_site,
    _add_lab,
    _add_lint_source,
    _add_new_exercise,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="backprop-course",
        description="Run the backpropagation course: release, collect, grade, check, report, demo.",
    )
    parser.add_argument("--version", action="version", version=f"backprop-course {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


def _course(args: argparse.Namespace):
    from autograder.coursedir.course import CourseDir

    course = CourseDir.at(args.course_dir, args.db)
    print(f"course folder: {course.root}")
    return course


def _release(args: argparse.Namespace) -> int:
    from autograder.coursedir.course import NOTEBOOKS_DIR

    notebooks = args.notebooks.expanduser() if args.notebooks else NOTEBOOKS_DIR
    if not notebooks.is_dir():
        raise CourseError(f"no source notebooks at {notebooks}: give their folder with --notebooks DIR "
                          "(an installed backprop-course holds none; docs/deploy.md says where they go on a hub)")
    from autograder.commands.release import release  # nbgrader: imported once the arguments are known good
    zips = release(_course(args), notebooks)
    print(f"released {len(zips)} assignment(s): " + ", ".join(z.name for z in zips))
    return 0


def _collect(args: argparse.Namespace) -> int:
    from autograder.commands.collect import collect

    report = collect(_course(args), args.source, assignment=args.assignment, accept_mismatch=args.accept_mismatch,
                     max_notebook_bytes=int(args.max_notebook_mb * 1024 * 1024), timezone=args.timezone,
                     canvas_submissions=args.canvas_submissions, moodle_worksheet=args.moodle_worksheet,
                     student=args.student, submitted_at=args.submitted_at, ngshare=args.ngshare)
    print(report.summary())
    return 1 if report.skipped else 0


def _roster(args: argparse.Namespace) -> int:
    from autograder.coursedir.roster import roster_from_file, write_roster

    roster = roster_from_file(args.file)
    path = write_roster(_course(args), roster)
    print(for_terminal(f"wrote {path}: {len(roster.students)} student(s)"))
    return 0


def _grade(args: argparse.Namespace) -> int:
    from autograder.commands.grade import grade
    from autograder.grading.parts import parse_part

    course = _course(args)
    part = parse_part(args.part) if args.part is not None else None
    summary = grade(course, workers=args.workers, assignments=args.assignment, students=args.student, part=part,
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


def _solutions(args: argparse.Namespace) -> int:
    from autograder.commands.solutions import solutions

    written, held = solutions(_course(args), args.assignment, force=args.force)
    for path in written:
        print(f"wrote {path}")
    for line in held:
        print(for_terminal(f"held back: {line}"))
    return 0


def _report(args: argparse.Namespace) -> int:
    from autograder.commands.report import make_report

    print(make_report(_course(args)))
    return 0


def _export(args: argparse.Namespace) -> int:
    from autograder.commands.export import export

    path = export(_course(args), args.format, lms_file=args.lms_file, columns=args.column,
                  assignment=args.assignment)
    print(f"wrote {path}")
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

    index = build_site(args.out, jobs=args.jobs, solutions=not args.no_solutions)
    print(f"site: {index.resolve()} (open it in a browser, or serve the folder: "
          f"python -m http.server -d {args.out} -b 127.0.0.1 8000)")
    return 0


def _lab(args: argparse.Namespace) -> int:
    from autograder.student.lab import run_student_lab

    return run_student_lab(args.folder, args.jupyter_args)


def _lint_source(args: argparse.Namespace) -> int:
    from autograder.authoring.lint import lint_source

    return lint_source(args.path, workers=args.workers, sample=args.sample, quality=not args.structure_only)


def _new_exercise(args: argparse.Namespace) -> int:
    from autograder.authoring.template import new_exercise

    path = new_exercise(args.notebook, number=args.number, title=args.title, function=args.function,
                        expression=args.expression, derivative=args.derivative, points=args.points, uses=args.uses)
    print(f"added Exercise {args.number} to {path}: rewrite its AUTHOR texts, then run "
          f"`backprop-course lint-source {path}`")
    return 0


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
