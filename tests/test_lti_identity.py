"""The LMS id a launch logs in under becomes the student id the roster finds (no hub, no JupyterHub import).

tests/test_lti_launch.py runs launches through a real hub (and tests deploy/hub/lti.py's rules).
"""

from __future__ import annotations

import pytest

from autograder.coursedir.roster import Roster, RosterStudent, hub_student_id
from autograder.errors import CourseError


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
