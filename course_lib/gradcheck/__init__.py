"""A numerical gradient checker that is accurate, cheap, and says what is wrong.

::

    from course_lib.gradcheck import numerical_gradient, check_gradients, check_derivative

    report = check_gradients(f, params, grads)   # grads: values, or a function of params
    report.passed, report.rows, report.diagnoses, str(report)
    report.assert_ok()                          # AssertionError(str(report)) unless passed

Modules: :mod:`.reference` (numerical gradients: complex step, central differences, Richardson),
:mod:`.tolerance` (the per-entry rule), :mod:`.inputs` (validation and the exceptions),
:mod:`.diagnose` (plain-word explanations), :mod:`.report` (rows and the report), :mod:`.check`
(check_gradients and check_derivative).
"""

from course_lib.gradcheck.check import MODES, check_derivative, check_gradients
from course_lib.gradcheck.inputs import (
    GradientInputError,
    GradientNameError,
    GradientShapeError,
    GradientTypeError,
    NonFiniteInputError,
    NotComplexSafeError,
)
from course_lib.gradcheck.reference import METHODS, numerical_gradient
from course_lib.gradcheck.report import FAIL, INCONCLUSIVE, OK, GradientReport, ParamRow
from course_lib.gradcheck.tolerance import Tolerance

__all__ = [
    "FAIL",
    "INCONCLUSIVE",
    "METHODS",
    "MODES",
    "OK",
    "GradientInputError",
    "GradientNameError",
    "GradientReport",
    "GradientShapeError",
    "GradientTypeError",
    "NonFiniteInputError",
    "NotComplexSafeError",
    "ParamRow",
    "Tolerance",
    "check_derivative",
    "check_gradients",
    "numerical_gradient",
]
