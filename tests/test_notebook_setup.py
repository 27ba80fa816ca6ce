"""course_lib.lesson's start() (a setup cell's) and course_lib.checks' expect_close() (a test cell's)."""

import math
import warnings

import pytest

from course_lib import gradcheck
from course_lib.checks import expect_close
from course_lib.lesson import start


def test_start_sets_the_checkers_context_and_quiets_expected_warnings():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        start("many-paths")
        assert gradcheck.get_context() == "many-paths"
        warnings.warn("old API", DeprecationWarning, stacklevel=1)
        warnings.warn("overflow encountered in exp", RuntimeWarning, stacklevel=1)
        warnings.warn("something else", RuntimeWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["something else"]


def test_start_rejects_an_unknown_context():
    with pytest.raises(gradcheck.GradientInputError, match="context must be one of"):
        start("no-such-notebook")


@pytest.mark.parametrize("received", [1.0, 1.0 + 1e-12, 1])
def test_expect_close_accepts_agreeing_numbers(received):
    expect_close("dy/dx", received, 1.0)


@pytest.mark.parametrize("received", [1.1, math.nan, math.inf, "1.0", None, True, [1.0]])
def test_expect_close_names_what_expected_and_received(received):
    with pytest.raises(AssertionError) as err:
        expect_close("dy/dx", received, 1.0, hint="the sign")
    assert "dy/dx: expected 1, received" in str(err.value)
    assert "Likely mistake: the sign" in str(err.value)
