"""The gradebook in a real PostgreSQL server (testkit/pgserver.py): the same grades as SQLite, several graders
writing at once, plain nbgrader on the same database, and one clear line for each kind of bad --db."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autograder.cli import main
from autograder.commands.collect import collect
from autograder.commands.grade import _merge, grade, load_results
from autograder.commands.release import release
from autograder.commands.sample_class import make_sample_class
from autograder.coursedir.course import CourseDir
from autograder.coursedir.database import normalise_db_url, run_with_retries
from autograder.errors import CourseError
from autograder.grading.worker import CellResult, SubmissionResult
from testkit.pipeline_fixture import released_course

pytestmark = [pytest.mark.postgres, pytest.mark.grading]

ASSIGNMENTS = ["01-double", "02-square"]
KINDS = ["correct", "blank", "exception", "deleted-test"]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "MPLBACKEND": "Agg"}


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "backprop-course"), *args], capture_output=True, text=True, env=ENV,
                          timeout=timeout)


def _start_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "backprop-course"), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV)


def _rows(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def _gradebook_scores(db_url: str) -> dict[tuple[str, str], float]:
    """Total auto score per (student, assignment), read back with nbgrader's Gradebook API."""
    from autograder.coursedir.database import open_gradebook

    out: dict[tuple[str, str], float] = {}
    with open_gradebook(db_url) as gb:
        for assignment in ASSIGNMENTS:
            for sub in gb.assignment_submissions(assignment):
                key = (sub.student.id, assignment)
                assert key not in out, f"{key} twice in the gradebook"
                out[key] = round(sum(g.auto_score or 0 for nb in sub.notebooks for g in nb.grades), 6)
    return out


def _submission_counts(postgres, db_url: str) -> dict[tuple[str, str], int]:
    """How many submission rows each (student, assignment) has, straight from PostgreSQL."""
    dbname = db_url.rsplit("/", 1)[1]
    text = postgres.sql("SELECT s.student_id, a.name, count(*) FROM submitted_assignment s "
                        "JOIN assignment a ON a.id = s.assignment_id GROUP BY 1, 2", dbname=dbname)
    return {(row.split("|")[0], row.split("|")[1]): int(row.split("|")[2]) for row in text.splitlines() if row}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A released course (SQLite) with a small class, graded with 2 workers: what PostgreSQL must match."""
    root = tmp_path_factory.mktemp("pg-reference")
    course, notebooks = released_course(root, "sqlite")
    make_sample_class(course.release, course.source, root / "incoming", ASSIGNMENTS, KINDS)
    collect(course, root / "incoming")
    summary = grade(course, workers=2, cell_timeout=4, progress=lambda m: None)
    assert summary.graded == len(KINDS) * len(ASSIGNMENTS)
    return root, notebooks, course


def _pg_course(reference, folder: str, url: str) -> CourseDir:
    """A copy of the reference course's submissions in a new course folder released into ``url``."""
    root, notebooks, ref = reference
    course = CourseDir.at(root / folder, url)
    release(course, notebooks, progress=lambda m: None)
    shutil.copytree(ref.submitted, course.submitted)
    return course


@pytest.fixture(scope="module")
def pg_graded(reference, postgres):
    """The same class graded by `backprop-course grade --db postgresql://... --workers 2` (a subprocess)."""
    url = postgres.create_database("pg_graded")
    course = _pg_course(reference, "pg", url)
    run = _cli("grade", "--course-dir", str(course.root), "--db", url, "--workers", "2", "--cell-timeout", "4")
    assert run.returncode in (0, 1), run.stderr  # 1: some kinds need attention (same as with SQLite)
    assert f"graded {len(KINDS) * len(ASSIGNMENTS)}," in run.stdout, run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    return course, url


def test_urls_are_normalised_to_psycopg3_in_one_place(tmp_path, monkeypatch):
    assert normalise_db_url("postgresql://u:p@h:5433/db") == "postgresql+psycopg://u:p@h:5433/db"
    assert normalise_db_url("postgres://h/db") == "postgresql+psycopg://h/db"
    assert normalise_db_url("postgresql+psycopg://h/db") == "postgresql+psycopg://h/db"
    course = CourseDir.at(tmp_path / "c", "postgresql://h/db")
    assert course.db_url == "postgresql+psycopg://h/db"
    monkeypatch.chdir(tmp_path)
    assert normalise_db_url("sqlite:///rel.db") == f"sqlite:///{tmp_path / 'rel.db'}"  # no cwd dependence
    assert CourseDir.at(tmp_path / "d").db_url == f"sqlite:///{tmp_path / 'd' / 'gradebook.db'}"


def test_postgres_grades_equal_sqlite_grades(reference, pg_graded):
    _, _, ref = reference
    course, url = pg_graded
    assert _rows(course.grades_csv) == _rows(ref.grades_csv)
    pg_scores = _gradebook_scores(url)
    assert pg_scores == _gradebook_scores(ref.db_url)
    assert len(pg_scores) == len(KINDS) * len(ASSIGNMENTS)
    assert pg_scores[("s01-correct", "01-double")] == 3 and pg_scores[("s02-blank", "02-square")] == 0
    assert pg_scores == {(r.student, r.assignment): r.score for r in load_results(course)}


def test_regrade_skips_unchanged_and_report_export_work_with_postgres(pg_graded):
    course, url = pg_graded
    again = _cli("grade", "--course-dir", str(course.root), "--db", url, "--workers", "2", "--cell-timeout", "4")
    assert f"graded 0, unchanged {len(KINDS) * len(ASSIGNMENTS)}" in again.stdout, again.stdout + again.stderr
    before = course.grades_csv.read_text()
    course.grades_csv.unlink()
    assert main(["export", "--course-dir", str(course.root), "--db", url]) == 0
    assert course.grades_csv.read_text() == before
    assert main(["report", "--course-dir", str(course.root), "--db", url]) == 0
    assert "01-double: 4 submission(s)" in (course.root / "report.txt").read_text()


def test_plain_nbgrader_uses_the_same_postgres_gradebook(pg_graded):
    course, url = pg_graded
    config = (course.root / "nbgrader_config.py").read_text()
    assert "postgresql+psycopg://" in config
    run = subprocess.run([str(BIN / "nbgrader"), "db", "student", "list"], cwd=course.root, env=ENV,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    for i, kind in enumerate(KINDS, 1):
        assert f"s{i:02d}-{kind}" in run.stdout, run.stdout


def test_two_graders_write_one_postgres_gradebook_at_once(reference, postgres):
    """Two `grade` processes (one per assignment, 2 workers each) started together on one database."""
    url = postgres.create_database("two_graders")
    first = _pg_course(reference, "grader-a", url)
    second = CourseDir.at(reference[0] / "grader-b", url)  # a second grader's copy of the same course
    shutil.copytree(first.root, second.root, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".grading", "grades.csv"))
    procs = [_start_cli("grade", "--course-dir", str(c.root), "--db", url, "--workers", "2", "--cell-timeout", "4",
                        "--assignment", a) for c, a in ((first, ASSIGNMENTS[0]), (second, ASSIGNMENTS[1]))]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode in (0, 1), out + err
        assert f"graded {len(KINDS)}," in out and "Traceback" not in err, out + err
    counts = _submission_counts(postgres, url)
    expected = {(f"s{i:02d}-{k}", a) for i, k in enumerate(KINDS, 1) for a in ASSIGNMENTS}
    assert counts == dict.fromkeys(expected, 1)  # every submission exactly once
    assert postgres.sql("SELECT count(*) FROM student", dbname="two_graders") == str(len(KINDS))
    assert _gradebook_scores(url) == _gradebook_scores(reference[2].db_url)



def test_two_graders_in_one_course_folder_take_turns_then_a_new_db_gets_every_grade(reference, postgres):
    """Two `grade` runs started together in one course folder: one grades, the other stops with the lock's
    error (coursedir/lock.py) and grades once run again; then the same folder pointed at a new database: the
    grades are recorded there without regrading."""
    url = postgres.create_database("same_folder")
    course = _pg_course(reference, "shared", url)
    args = {a: ["grade", "--course-dir", str(course.root), "--db", url, "--workers", "1", "--cell-timeout", "4",
                "--assignment", a] for a in ASSIGNMENTS}
    procs = {a: _start_cli(*args[a]) for a in ASSIGNMENTS}
    outputs = {a: p.communicate(timeout=600) for a, p in procs.items()}
    refused = [a for a, p in procs.items() if p.returncode == 2]
    assert len(refused) == 1, outputs
    for a, p in procs.items():
        out, err = outputs[a]
        if a in refused:
            assert "another `backprop-course grade` is running on this course" in err, out + err
            assert str(course.state / "grade.lock") in err and "Traceback" not in err, out + err
            again = _cli(*args[a], timeout=600)
            out, err, code = again.stdout, again.stderr, again.returncode
        else:
            code = p.returncode
        assert code in (0, 1) and f"graded {len(KINDS)}," in out and "Traceback" not in err, out + err
    assert _gradebook_scores(url) == _gradebook_scores(reference[2].db_url)
    assert not list(course.root.rglob("*.part")), list(course.root.rglob("*.part"))
    assert len(_rows(course.grades_csv)) == len(KINDS) * len(ASSIGNMENTS)

    moved = postgres.create_database("moved_here")
    release(CourseDir.at(course.root, moved), reference[1], progress=lambda m: None)  # the fixture's notebooks
    run = _cli("grade", "--course-dir", str(course.root), "--db", moved, "--cell-timeout", "4")
    assert run.returncode in (0, 1), run.stdout + run.stderr
    assert f"graded 0, unchanged {len(KINDS) * len(ASSIGNMENTS)}" in run.stdout, run.stdout
    assert f"recorded {len(KINDS) * len(ASSIGNMENTS)} already graded" in run.stdout, run.stdout
    assert _gradebook_scores(moved) == _gradebook_scores(reference[2].db_url)
    assert all((course.feedback / r.student / r.assignment).is_dir() for r in load_results(course)
               if r.feedback)  # the feedback was not touched by recording

def _result(student: str, score: float) -> SubmissionResult:
    result = SubmissionResult(student, "01-double", "digest", status="ok")
    result.cells = [CellResult("double", "double-test", score, 2.0), CellResult("double", "double-test2", 1.0, 1.0)]
    return result


def test_a_lost_insert_race_is_retried_in_a_new_transaction(reference, postgres):
    """Another grader inserts the same new student while our merge runs: our insert hits the unique key
    (it waits on the other's open transaction, then fails), and the merge retries and succeeds."""
    import psycopg

    url = postgres.create_database("lost_race")
    course = _pg_course(reference, "race", url)
    other = psycopg.connect(url)
    other.execute("INSERT INTO student (id) VALUES ('s77-racer')")  # not committed yet: invisible to the merge
    outcome: list[BaseException | None] = []

    def merge() -> None:
        try:
            _merge(course, _result("s77-racer", 2.0))
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            outcome.append(exc)

    thread = threading.Thread(target=merge)
    thread.start()
    deadline = time.monotonic() + 30
    # wait until the merge's INSERT is blocked on our uncommitted row, then let it lose the race
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    while postgres.sql(waiting, dbname="lost_race") != "1":
        assert time.monotonic() < deadline and thread.is_alive(), outcome
        time.sleep(0.05)
    other.commit()
    other.close()
    thread.join(60)
    assert outcome == [None]
    assert _gradebook_scores(url)[("s77-racer", "01-double")] == 3.0
    assert _submission_counts(postgres, url)[("s77-racer", "01-double")] == 1


def test_a_race_that_never_clears_ends_with_one_clear_error():
    from sqlalchemy.exc import IntegrityError

    calls = []

    def always_loses() -> None:
        calls.append(1)
        raise IntegrityError("INSERT INTO student", {}, Exception('duplicate key value violates "student_pkey"'))

    with pytest.raises(CourseError) as info:
        run_with_retries(always_loses, "postgresql+psycopg://u:secret@h/db", "cannot write s01/a1", attempts=3,
                         first_wait=0.001)
    assert len(calls) == 3
    message = str(info.value)
    assert message.startswith("cannot write s01/a1: still failing after 3 attempts") and "\n" not in message
    assert "run the same command again" in message and "secret" not in message


def _bad_urls(postgres) -> dict[str, tuple[str, str]]:
    """kind: (URL, words the one-line error must contain)."""
    postgres.create_user("grader", "right-password")
    postgres.create_user("visitor", "pw")
    owned = postgres.create_database("owned_by_postgres")
    from testkit.pgserver import _free_port

    return {
        "unreachable": (f"postgresql://postgres@127.0.0.1:{_free_port()}/db", "cannot reach the database server"),
        "wrong-password": (postgres.url("postgres", "grader", "WRONG"), "wrong user or password"),
        "no-such-database": (postgres.url("no_such_db"), "does not exist"),
        "no-create-right": (owned.replace("postgres@", "visitor:pw@"), "OWNER TO"),
        "unknown-scheme": ("mongodb://127.0.0.1/db", "unknown database scheme"),
        "not-a-url": ("gradebook.db", "not a database URL"),
    }


def test_bad_database_urls_give_one_clear_line(reference, postgres, capsys):
    root, _, ref = reference
    folder = root / "bad-db"
    shutil.copytree(ref.source, folder / "source")
    for kind, (url, words) in _bad_urls(postgres).items():
        for command in (["release"], ["grade", "--workers", "1"]):
            status = main([*command, "--course-dir", str(folder), "--db", url])
            err = capsys.readouterr().err
            lines = err.strip().splitlines()
            assert status == 2, (kind, command, err)
            assert len(lines) == 1 and lines[0].startswith("error: ") and words in err, (kind, command, err)
            assert "WRONG" not in err and ":pw@" not in err, "passwords stay out of messages"
    assert not (folder / "release").exists(), "nothing released into a database that failed the check"


def test_bad_database_url_from_the_command_line_has_no_traceback(reference, postgres, tmp_path):
    shutil.copytree(reference[2].source, tmp_path / "source")
    run = _cli("grade", "--course-dir", str(tmp_path), "--db", postgres.url("no_such_db"))
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.strip().splitlines() == [run.stderr.strip()] and "createdb" in run.stderr
