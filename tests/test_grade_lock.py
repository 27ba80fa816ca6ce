"""Two `backprop-course grade` runs on one course cannot interleave: the second stops with a clear error."""

import subprocess
import sys
import textwrap

import pytest

from autograder.cli import main
from autograder.coursedir import lock
from autograder.coursedir.course import CourseDir
from autograder.coursedir.lock import GradeRunning, grade_lock, lock_path


@pytest.fixture
def holder(tmp_path):
    """Another process holding the course's grade lock (as a running `grade` does) until it is killed."""
    code = textwrap.dedent(f"""
        import sys, time
        from autograder.coursedir.course import CourseDir
        from autograder.coursedir.lock import grade_lock
        with grade_lock(CourseDir.at({str(tmp_path / "course")!r})):
            print("held", flush=True)
            time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_second_grade_run_waits_then_names_the_lock_file_and_the_other_run(tmp_path, holder, capsys, monkeypatch):
    monkeypatch.setattr(lock, "WAIT_SECONDS", 0.5)
    code = main(["grade", "--course-dir", str(tmp_path / "course")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: another `backprop-course grade` is running on this course"), err
    assert str(lock_path(CourseDir.at(tmp_path / "course"))) in err
    assert f"pid {holder.pid} on " in err
    assert "waited 0.5 s" in err and "Traceback" not in err


def test_the_lock_is_free_again_when_the_other_run_dies(tmp_path, holder, capsys, monkeypatch):
    monkeypatch.setattr(lock, "WAIT_SECONDS", 0.2)
    holder.kill()  # a crashed run: the OS releases its lock, nothing is left stale
    holder.wait()
    code = main(["grade", "--course-dir", str(tmp_path / "course")])
    assert code == 2 and "no assignments in" in capsys.readouterr().err  # got past the lock to grade's own check
    with grade_lock(CourseDir.at(tmp_path / "course"), wait=0):
        pass


def test_a_run_releases_the_lock_when_it_fails_and_says_nothing_stale(tmp_path, capsys):
    course = CourseDir.at(tmp_path)
    assert main(["grade", "--course-dir", str(tmp_path)]) == 2  # no assignments: a CourseError inside the lock
    with grade_lock(course, wait=0), pytest.raises(GradeRunning, match="pid "), grade_lock(course, wait=0):
        pass
    assert not (course.state / "grade.lock.json").exists()
