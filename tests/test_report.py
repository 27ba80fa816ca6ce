"""The report is lecture-ready: exercises by title in notebook order, every diagnosis counted in students,
late penalties apart from the means and the histogram, a per-exercise chart with its text alternative."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from PIL import Image

from autograder.commands.report import (
    _assignment_lines,
    _exercises_png,
    _rows,
    clip,
    diagnosis_of,
    exercises_of,
)
from autograder.coursedir.course import NOTEBOOKS_DIR, CourseDir
from autograder.grading.record import Final
from autograder.grading.worker import CellResult, SubmissionResult

SIGN = "Gradient check FAILED: 1 of 1 parameters wrong.\n1. dy/dx: the sign is flipped (yours 0.25, expected -0.25)."
FACTOR = "Gradient check FAILED.\n1. d_exp: off by a constant factor 2.0000 (likely a missing chain-rule factor)."


def _course(tmp_path: Path) -> CourseDir:
    course = CourseDir.at(tmp_path / "course")
    shutil.copytree(NOTEBOOKS_DIR / "01-chain-rule", course.source / "01-chain-rule")
    return course


def _final(student: str, scores: dict[str, tuple[float, float, str]], penalty: float = 0.0) -> Final:
    cells = [CellResult("chain-rule", cell, s, m, msg) for cell, (s, m, msg) in scores.items()]
    raw = sum(c.score for c in cells)
    result = SubmissionResult(student, "01-chain-rule", "d", max(0.0, raw - penalty), sum(c.max_score for c in cells),
                              cells=cells)
    return Final(result, raw_score=raw, late_penalty=penalty, timestamp=dt.datetime(2026, 1, 2) if penalty else None,
                 due=dt.datetime(2026, 1, 1) if penalty else None)


def test_exercises_are_titled_by_their_heading_in_notebook_order(tmp_path):
    exercises = exercises_of(_course(tmp_path), "01-chain-rule")
    titles = [t for t, _ in exercises]
    assert titles[:2] == ["Exercise 1.1 — the forward pass, step by step", "Exercise 1.2 — the local derivatives"]
    assert dict(exercises)["Exercise 1.2 — the local derivatives"] == [
        ("chain-rule", "d-square-test"), ("chain-rule", "d-exp-test"), ("chain-rule", "d-reciprocal-test")]
    assert not any("points)" in t for t in titles)
    shutil.copytree(NOTEBOOKS_DIR / "02-sigmoid-chain", tmp_path / "course" / "source" / "02-sigmoid-chain")
    sub = [t for t, _ in exercises_of(CourseDir.at(tmp_path / "course"), "02-sigmoid-chain")]
    assert sub[1:3] == ["Exercise 2.2 (a) The derivative of the sigmoid",
                        "Exercise 2.2 (b) The table of local derivatives"]


def test_a_long_diagnosis_is_cut_at_a_word_and_numbers_are_elided():
    assert clip("a " * 100, 20) == "a a a a a a a a a …"
    long = "1. W1: " + "the gradient misses the sigmoid's derivative " * 6
    text = diagnosis_of(long)
    assert text.endswith(" …") and len(text) <= 160 and long.startswith("1. " + text[:-2])
    assert diagnosis_of(SIGN) == "dy/dx: the sign is flipped (yours …, expected …)."
    assert diagnosis_of("How this was checked: numerical derivatives.\n1. W: transposed") == "W: transposed"


def test_every_diagnosis_is_listed_and_counted_in_students_late_penalties_apart(tmp_path):
    course = _course(tmp_path)
    finals = [
        _final("ann", {"d-square-test": (0, 1, SIGN), "d-exp-test": (0, 1, SIGN)}),  # one student, counted once
        _final("ben", {"d-square-test": (0, 1, SIGN), "d-exp-test": (1, 1, "")}),
        _final("cid", {"d-square-test": (0, 1, SIGN), "d-exp-test": (0, 1, FACTOR)}),
        _final("dan", {"d-square-test": (1, 1, ""), "d-exp-test": (1, 1, "")}, penalty=2.0),  # late, full marks
    ]
    rows = _rows(course, "01-chain-rule", finals)
    lines, raw = _assignment_lines("01-chain-rule", finals, rows)
    text = "\n".join(lines)
    assert "      3 students: dy/dx: the sign is flipped (yours …, expected …)." in text
    assert "      1 student: d_exp: off by a constant factor … (likely a missing chain-rule factor)." in text
    assert "x)" not in text.replace("(yours", "").replace("factor).", "")
    assert "Exercise 1.2 — the local derivatives" in text and "1 student of 4" in text  # dan: full marks
    assert raw == [0.0, 50.0, 0.0, 100.0]  # before the late penalty
    assert "mean 38% before late penalties" in text
    assert "late penalties: 1 submission(s) lost 2 point(s) in all; the mean after penalties is 12%" in text
    assert text.count("80-100%") == 1 and "80-100% | " in text and text.split("80-100% |")[1].split()[-1] == "1"


def test_the_per_exercise_chart_has_its_text_alternative(tmp_path):
    course = _course(tmp_path)
    rows = _rows(course, "01-chain-rule", [_final("ann", {"forward-test": (2, 2, ""), "d-exp-test": (0, 1, SIGN)})])
    path = tmp_path / "report-exercises.png"
    _exercises_png([("01-chain-rule", r) for r in rows], path, "Mean points per exercise; see report.txt")
    with Image.open(path) as image:
        assert image.info["Description"] == "Mean points per exercise; see report.txt"
        assert image.size[0] >= 600


def test_the_first_line_counts_missing_rows_apart_from_graded_ones():
    from autograder.commands.report import headline
    from autograder.grading.missing import MISSING

    finals = [_final("ann", {"d-square-test": (1, 1, "")}), _final("ben", {"d-square-test": (0, 1, SIGN)})]
    assert headline(finals) == "Course report: 2 graded submission(s) from 2 student(s)"
    absent = _final("cid", {})
    from autograder.grading.status import Status

    absent.result.status = Status(reasons=[f"{MISSING} (left blank)"])
    line = headline([*finals, absent])
    assert line.startswith("Course report: 2 graded submission(s) from 2 student(s); ")
    assert "1 expected submission(s) missing" in line
