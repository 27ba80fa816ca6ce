"""The report's most-common-diagnosis column shows the checker's diagnosis, never its table header."""

import numpy as np

from autograder.commands.report import diagnosis_of
from course_lib.gradcheck import check_derivative


def test_a_gradient_failure_gives_its_diagnosis_not_the_table_header():
    report = check_derivative(lambda x: x**3, lambda x: -3 * x**2, [0.5, -0.9], name="dy/dx")
    line = diagnosis_of(str(report))
    assert "sign is flipped" in line
    assert "parameter" not in line and "shape" not in line.split(":")[0]


def test_not_answered_and_plain_errors():
    assert diagnosis_of("NotImplementedError: not answered yet") == "not answered"
    assert diagnosis_of("") == ""
    assert diagnosis_of("NameError: name 'h1' is not defined") == "NameError: name 'h1' is not defined"


def test_numbers_are_elided_so_equal_diagnoses_count_together():
    a = diagnosis_of(str(check_derivative(lambda x: np.sin(x), lambda x: 2 * np.cos(x), [0.3, 1.1], name="d")))
    b = diagnosis_of(str(check_derivative(lambda x: np.sin(x), lambda x: 2 * np.cos(x), [0.7, -0.2], name="d")))
    assert a == b and "factor" in a


def test_a_diagnosis_without_keywords_still_wins_over_the_header():
    message = ("Gradient check FAILED: 1 of 4 parameters wrong.\n"
               "1. W2: misses the contribution of output 2 to the loss.\n\n"
               "parameter  shape  status  worst entry  yours  expected  abs err  rel err\n"
               "W2         (3, 2) FAIL    W2[0,1] @1   0.12   0.25      1.3e-01  5.2e-01\n")
    assert diagnosis_of(message) == "W2: misses the contribution of output 2 to the loss."
