"""The instructor's files: nbgrader_config.py merged (never overwritten), the course_lib wheel, the demo folder."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.commands.demo import DEMO_MARK, demo_folder
from autograder.commands.release import build_course_lib_wheel
from autograder.coursedir.course import BLOCK_BEGIN, BLOCK_END, CourseDir, instructor_config, write_nbgrader_config
from autograder.errors import CourseError

OLD_FORMAT = """# Written by `backprop-course release`: the settings backprop-course grades with.
c = get_config()  # noqa: F821
c.Execute.timeout = 30
c.CourseDirectory.db_url = 'sqlite:////somewhere/else.db'
c.LateSubmissionPlugin.penalty_method = "zero"
"""


def test_an_earlier_versions_file_keeps_the_line_the_instructor_added(tmp_path):
    course = CourseDir.at(tmp_path)
    (tmp_path / "nbgrader_config.py").write_text(OLD_FORMAT)
    text = write_nbgrader_config(course).read_text()
    assert text.startswith(BLOCK_BEGIN) and text.count(BLOCK_END) == 1
    assert 'c.LateSubmissionPlugin.penalty_method = "zero"' in text.split(BLOCK_END)[1]
    assert "somewhere/else.db" not in text and text.count("c.Execute.timeout") == 1
    assert instructor_config(course).LateSubmissionPlugin.penalty_method == "zero"


def test_lines_around_the_block_are_kept_and_the_block_is_rewritten(tmp_path):
    course = CourseDir.at(tmp_path)
    (tmp_path / "nbgrader_config.py").write_text("# mine, above\nc = get_config()  # noqa: F821\n"
                                                 "c.Execute.timeout = 99\n")
    first = write_nbgrader_config(course).read_text()
    assert "c.Execute.timeout = 99" in first.split(BLOCK_END)[1]  # after the block: the instructor's wins
    assert instructor_config(course).Execute.timeout == 99
    again = write_nbgrader_config(course, cell_timeout=45).read_text()
    assert "c.Execute.timeout = 45" in again.split(BLOCK_END)[0] and "c.Execute.timeout = 99" in again
    assert again.count(BLOCK_BEGIN) == 1 and "# mine, above" in again


def test_a_broken_config_file_is_one_clear_error(tmp_path):
    course = CourseDir.at(tmp_path)
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\nc.Execute.timeout = = 3\n")
    with pytest.raises(CourseError, match="nbgrader_config.py cannot be read"):
        instructor_config(course)


def test_the_course_lib_wheel_installs_and_holds_no_grader(tmp_path):
    wheel = build_course_lib_wheel(tmp_path / "release")
    names = zipfile.ZipFile(wheel).namelist()
    assert "course_lib/gradcheck/__init__.py" in names and not any(n.startswith("autograder") for n in names)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target",
                    str(target), str(wheel)], check=True, timeout=120)
    out = subprocess.run([sys.executable, "-c", "import course_lib.gradcheck, course_lib; print(course_lib.__file__)"],
                         cwd=tmp_path, env={"PYTHONPATH": str(target)}, capture_output=True, text=True, check=True)
    assert out.stdout.strip().startswith(str(target))


def test_the_demo_never_takes_an_instructors_course(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert str(demo_folder()) == "course-demo"  # never ./course, the real course's folder, even when missing
    (tmp_path / "course-demo").mkdir()
    (tmp_path / "course-demo" / DEMO_MARK).write_text("")
    assert str(demo_folder()) == "course-demo"  # an earlier demo: used again
    (tmp_path / "course-demo" / DEMO_MARK).unlink()
    (tmp_path / "course-demo" / "notes.txt").write_text("mine")
    assert "backprop-course-demo-" in str(demo_folder())  # other work: a new temporary folder


@pytest.mark.grading  # imports nbgrader and its database layer: not the fast tier
def test_a_gradebook_without_alembic_version_is_repaired(tmp_path, monkeypatch):
    from sqlalchemy import create_engine, inspect, text

    from autograder.coursedir.database import ensure_gradebook, open_gradebook

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with open_gradebook(url):
        pass
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))  # as a gradebook made without `alembic` on PATH is
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no `alembic` command: the revision is read in this process
    ensure_gradebook(url)
    assert "alembic_version" in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert len(conn.execute(text("SELECT version_num FROM alembic_version")).scalar()) >= 8
    engine.dispose()


def test_students_wheel_keeps_the_answers_its_demos_need(tmp_path, monkeypatch):
    """Students' own copies keep course_lib/answers behind the teaching guard (README, "Grading is protected"):
    the wheel holds them, and without them the demos that run on a student's machine stop."""
    import numpy as np

    from course_lib import guard, models, training, widgets
    from course_lib.graph import Node, sigmoid

    names = set(zipfile.ZipFile(build_course_lib_wheel(tmp_path)).namelist())
    assert {f"course_lib/answers/{m}.py" for m in ("engine", "local", "network")} <= names
    x = Node(0.5, "x")
    stepper = widgets.backward_stepper(sigmoid(x * Node(2.0, "w")))  # draws a backward pass: engine and local
    assert stepper.n_steps > 0
    X, Y = np.array([[0.1, 0.4], [0.7, 0.2]]), np.array([[1.0], [0.0]])
    params = models.init_params(sizes=(2, 3, 1))
    assert len(training.train(params, X, Y, steps=2).losses) == 3  # before each step, and at the end
    for module in ("engine", "local", "network"):  # as in the grading sandbox, where answers/ is empty
        monkeypatch.setitem(guard._loaded, module, None)
    with pytest.raises(guard.AnswerUnavailable):
        widgets.backward_stepper(sigmoid(Node(0.5, "x") * Node(2.0, "w")))
    with pytest.raises(guard.AnswerUnavailable):
        training.train(params, X, Y, steps=2)


@pytest.mark.grading  # runs nbgrader's own `alembic heads` once, to compare with
def test_a_new_gradebook_gets_nbgraders_schema_revision_with_no_alembic_subprocess(tmp_path, monkeypatch):
    """nbgrader runs `alembic heads` in a subprocess (3-4 s) for each new gradebook; the grader reads it in process."""
    from nbgrader.dbutil import _temp_alembic_ini
    from sqlalchemy import create_engine, text

    from autograder.coursedir.database import open_gradebook

    with _temp_alembic_ini(f"sqlite:///{tmp_path / 'unused.db'}") as ini:  # exactly as nbgrader asks alembic
        out = subprocess.run([str(Path(sys.executable).parent / "alembic"), "-c", ini, "heads"],
                             capture_output=True, text=True, check=True).stdout
    nbgraders_head = out.split()[0]
    empty = tmp_path / "no-commands"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # nbgrader's subprocess would fail: no `alembic` to run
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with open_gradebook(url) as gb:
        assert gb.students == []
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == nbgraders_head
    engine.dispose()
