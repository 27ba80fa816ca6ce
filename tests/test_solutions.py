"""`backprop-course solutions`: worked derivations and model answers, only once every student's time is up."""

from __future__ import annotations

import datetime as dt
import shutil

import nbformat
import pytest

from autograder.cli import main
from autograder.commands.solutions import solutions
from autograder.coursedir.course import NOTEBOOKS_DIR, CourseDir
from autograder.errors import CourseError
from autograder.notebook.worked import is_worked

A = "02-sigmoid-chain"
DEADLINES = f"""
timezone = "UTC"
[due]
"{A}" = "2026-10-05 23:59"
[extensions."{A}"]
alice = "2 days"
bob = "2026-10-09 12:00"
"""


@pytest.fixture()
def course(tmp_path):
    course = CourseDir.at(tmp_path / "course")
    for name in ("01-chain-rule", A):
        shutil.copytree(NOTEBOOKS_DIR / name, course.source / name)
    course.deadlines_file.write_text(DEADLINES, encoding="utf-8")
    return course


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_before_the_due_date_it_refuses_and_names_the_date_and_the_last_extension(course):
    with pytest.raises(CourseError) as info:
        solutions(course, [A], now=_utc("2026-10-01 09:00"))
    message = str(info.value)
    assert "due 2026-10-05 23:59 UTC" in message and "bob's extension runs to 2026-10-09 12:00 UTC" in message
    assert "--force" in message
    assert not (course.root / "solutions").exists()


def test_after_the_due_date_but_inside_an_extension_it_still_refuses(course):
    with pytest.raises(CourseError, match="bob's extension runs to 2026-10-09 12:00 UTC"):
        solutions(course, [A], now=_utc("2026-10-08 10:00"))  # alice's 2 days are over, bob's time is not


def test_once_every_extension_is_over_it_writes_the_worked_derivations_and_model_answers(course):
    written, held = solutions(course, [A], now=_utc("2026-10-09 12:01"))
    assert held == [] and [p.relative_to(course.root).as_posix() for p in written] == [
        f"solutions/{A}/sigmoid-chain-solutions.ipynb"]
    nb = nbformat.read(str(written[0]), as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    source = nbformat.read(str(course.source / A / "sigmoid-chain.ipynb"), as_version=4)
    assert sum(map(is_worked, nb.cells)) == sum(map(is_worked, source.cells)) > 0
    assert "s = sigmoid(a)\n    return s * (1 - s)" in text  # 2.2 (a)'s model answer, in its answer cell
    assert "BEGIN SOLUTION" not in text and "NotImplementedError()" not in text
    assert "HIDDEN TESTS" not in text and "use_references(globals()" not in text  # the grader's references stay private
    assert not any(c.metadata.get("nbgrader") for c in nb.cells)
    assert "after the due date (due 2026-10-05 23:59 UTC, and bob's extension runs to 2026-10-09 12:00 UTC)" \
        in nb.cells[0].source


def test_force_releases_early_and_says_so(course):
    written, _ = solutions(course, [A], force=True, now=_utc("2026-10-01 09:00"))
    nb = nbformat.read(str(written[0]), as_version=4)
    assert "before the due date" in nb.cells[0].source and "--force" in nb.cells[0].source


def test_without_assignment_it_writes_the_closed_ones_and_holds_back_the_rest(course):
    written, held = solutions(course, now=_utc("2026-10-09 12:01"))
    assert {p.parent.name for p in written} == {A}
    assert len(held) == 1 and held[0].startswith("01-chain-rule has no due date in deadlines.toml"), held


def test_an_assignment_without_a_due_date_is_refused_with_what_to_add(course):
    with pytest.raises(CourseError, match=r"01-chain-rule has no due date in deadlines.toml.*add it under \[due\]"):
        solutions(course, ["01-chain-rule"], now=_utc("2030-01-01 00:00"))


def test_the_command_as_an_instructor_types_it(course, capsys):
    args = ["solutions", "--course-dir", str(course.root), "--assignment", A]
    assert main(args) == 0  # 2026-10-09 is in the past on this machine's clock
    assert f"solutions/{A}/sigmoid-chain-solutions.ipynb" in capsys.readouterr().out
    course.deadlines_file.write_text(DEADLINES.replace("2026-10-09 12:00", "2999-01-01 00:00"), encoding="utf-8")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 02-sigmoid-chain is not closed yet: due 2026-10-05 23:59 UTC, and bob's "
                          "extension runs to 2999-01-01 00:00 UTC"), err


def test_docs_instructor_solutions_command_runs_as_printed(tmp_path, monkeypatch, capsys):
    """docs/instructor.md's "Solutions after the due date": its command, typed in the folder above course/."""
    doc = (NOTEBOOKS_DIR.parent / "docs" / "instructor.md").read_text(encoding="utf-8")
    section = doc.split("### Solutions after the due date", 1)[1].split("\n#", 1)[0]
    commands = [line[2:].split() for line in section.splitlines() if line.startswith("$ ")]
    assert commands == [[".venv/bin/backprop-course", "solutions", "--assignment", "01-chain-rule"]]
    course = CourseDir.at(tmp_path / "course")
    shutil.copytree(NOTEBOOKS_DIR / "01-chain-rule", course.source / "01-chain-rule")
    course.deadlines_file.write_text('[due]\n"01-chain-rule" = "2026-10-05 23:59"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BPC_COURSE_DIR", raising=False)
    assert main(commands[0][1:]) == 0
    assert "course/solutions/01-chain-rule/chain-rule-solutions.ipynb" in capsys.readouterr().out
    assert (course.root / "solutions" / "01-chain-rule" / "chain-rule-solutions.ipynb").is_file()
