"""A submission's status is fields (state, reasons, notes), saved as fields and rendered to text at the edges."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from autograder.coursedir.course import CourseDir
from autograder.grading.record import Final, load_results, write_grades_csv
from autograder.grading.status import NOT_RECORDED, Status
from autograder.grading.worker import CellResult, SubmissionResult

ROOT = Path(__file__).resolve().parents[1]


def test_a_normal_grading_is_ok_and_reads_ok_with_its_notes():
    assert Status().ok and Status().state == "ok" and Status().text() == "ok"
    noted = Status(notes=["unanswered, so these tests failed: a"])
    assert noted.ok and str(noted) == "ok (unanswered, so these tests failed: a)"


def test_each_kind_of_attention_is_its_own_field_and_all_reach_the_text():
    s = Status(reasons=["test cells timed out after 30 s: t1"], notes=["n"])
    s.add_reason("timestamp.txt is not a date and time")
    s.add_reason("timestamp.txt is not a date and time")  # once
    s.manual_needed = ["double:free-text"]
    s.not_recorded = "RuntimeError: refused"
    assert not s.ok and s.state == "attention"
    assert s.text() == (f"{NOT_RECORDED} (RuntimeError: refused); run grade again to record it; needs a manual "
                        "grade in Formgrader: double:free-text; timestamp.txt is not a date and time; test cells "
                        "timed out after 30 s: t1 (n)")
    s.not_recorded = ""  # recorded by the next run: only that reason goes
    s.manual_needed = []
    assert s.all_reasons() == ["timestamp.txt is not a date and time", "test cells timed out after 30 s: t1"]


def test_a_saved_result_holds_the_status_as_fields_and_reads_back_the_same(tmp_path):
    course = CourseDir.at(tmp_path)
    r = SubmissionResult("s1", "01-double", "d", 1.0, 3.0, Status(["a; b"], ["n"]), [CellResult("double", "t", 1, 3)])
    path = course.state / "results" / "s1" / "01-double.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(r.to_json()))
    saved = json.loads(path.read_text())["status"]
    assert saved["state"] == "attention" and saved["reasons"] == ["a; b"] and saved["notes"] == ["n"]
    (back,) = load_results(course)
    assert back.status == r.status and back.status.reasons == ["a; b"]  # a "; " inside a reason stays inside


def test_a_result_saved_by_an_older_grader_reads_its_one_line_status():
    old = {"student": "s", "assignment": "a", "digest": "d",
           "status": f"{NOT_RECORDED} (OperationalError: locked); run grade again to record it || ok (late notes)"}
    s = SubmissionResult.from_json(old).status
    assert s.not_recorded == "OperationalError: locked" and s.notes == ["late notes"] and not s.reasons
    assert Status.from_json("ok").ok and Status.from_json("kernel died").reasons == ["kernel died"]
    assert SubmissionResult("s", "a", "d", status="ok (x)").status.notes == ["x"]


def test_grades_csv_keeps_its_status_column_as_one_readable_line(tmp_path):
    course = CourseDir.at(tmp_path)
    ok = SubmissionResult("s1", "01-double", "d", 3, 3, Status(notes=["n"]), [CellResult("double", "t", 3, 3)])
    bad = SubmissionResult("s2", "01-double", "d", 0, 3, Status(["kernel died"]), [CellResult("double", "t", 0, 3)])
    bad.status.manual_needed = ["double:free"]
    rows = list(csv.DictReader(write_grades_csv(course, [Final(ok), Final(bad)]).open()))
    assert [r["status"] for r in rows] == ["ok (n)", "needs a manual grade in Formgrader: double:free; kernel died"]


def test_no_module_parses_a_status_from_its_text():
    parsers = re.compile(r"status\.startswith|status\.split|\" \|\| \"|status\[\d")
    found = [f"{p.relative_to(ROOT)}:{n}" for p in sorted((ROOT / "autograder").rglob("*.py"))
             if p.name != "status.py" for n, line in enumerate(p.read_text().splitlines(), 1) if parsers.search(line)]
    assert not found, found
