"""The LMS id a launch logs in under becomes the student id the roster finds (no hub, no JupyterHub import).

tests/test_lti_launch.py runs launches through a real hub (and tests deploy/hub/lti.py's rules).
"""

from __future__ import annotations

import shutil

import pytest

from autograder.commands.collect import collect
from autograder.coursedir.course import CourseDir
from autograder.coursedir.roster import Roster, RosterStudent, hub_student_id, roster_from_file, write_roster
from autograder.coursedir.students import student_records
from autograder.errors import CourseError
from testkit.lms_fixtures import canvas_gradebook
from testkit.pipeline_fixture import make_course_notebooks


@pytest.mark.parametrize(("lms_id", "student_id"), [
    ("4711", "4711"),  # Canvas's user id
    ("Anna.Mueller@Uni.example", "anna.mueller@uni.example"),  # Moodle's email; JupyterHub lower-cases names
    ("a6d5c443-1f51-4783-ba1a-7686ffe3b54a", "a6d5c443-1f51-4783-ba1a-7686ffe3b54a"),  # an opaque sub
])
def test_an_lms_id_becomes_the_student_id_the_roster_finds(lms_id, student_id):
    assert hub_student_id(lms_id) == student_id
    roster = Roster([RosterStudent("4711", "Müller, Anna"),
                     RosterStudent("anna.mueller@uni.example", "Mueller, Anna", email="anna.mueller@uni.example"),
                     RosterStudent("x", "Sub, Opaque", sis_login_id="a6d5c443-1f51-4783-ba1a-7686ffe3b54a")])
    found = roster.find(student_id, "the hub user")
    assert student_id in (found.id.lower(), found.email, found.sis_login_id)


@pytest.mark.parametrize("lms_id", ["anna+course@uni.example", "a/b", "..", "", " ", "Ünïcode", "x" * 101])
def test_an_lms_id_that_cannot_name_a_folder_is_refused_with_what_to_do(lms_id):
    with pytest.raises(CourseError, match="BPC_LTI_USERNAME_CLAIM"):
        hub_student_id(lms_id)


def test_a_hand_in_under_the_hub_name_is_filed_under_the_roster_student(tmp_path):
    """The hub user name of Anna's launch (Canvas user id 4711) is her roster id in collect and the records."""
    notebooks = make_course_notebooks(tmp_path / "repo")
    course = CourseDir.at(tmp_path / "course")
    shutil.copytree(notebooks, course.source)
    book = canvas_gradebook(tmp_path / "gradebook.csv", [("Müller, Anna", 4711, "S-100", "amueller"),
                                                         ("Okafor, Ben", 4712, "S-101", "bokafor")], [])
    write_roster(course, roster_from_file(book))
    name = hub_student_id("4711")  # the launch's custom_lms_user_id, as the hub names the user
    handed_in = tmp_path / "handed-in" / name
    handed_in.mkdir(parents=True)
    (handed_in / "double.ipynb").write_bytes((course.source / "01-double" / "double.ipynb").read_bytes())
    report = collect(course, tmp_path / "handed-in", assignment="01-double", submitted_at="2026-10-05 10:00")
    assert not report.skipped, report.skipped
    (record,) = student_records(course).values()
    assert record["id"] == "4711" and record["name"] == "Müller, Anna"
