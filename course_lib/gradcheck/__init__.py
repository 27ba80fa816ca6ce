"""A numerical gradient checker that is accurate, cheap, and says what is wrong.

::

    from course_lib.gradcheck import numerical_gradient, check_gradients, check_derivative

    report = check_gradients(f, params, grads)   # grads: values, or a function of params
    report.passed, report.rows, report.diagnoses, str(report)
    report.assert_ok()                          # AssertionError(str(report)) unless passed

    gradcheck.set_context("chain-rule")         # a notebook's setup cell: advice in the words taught so far
    check_derivative(f, df, [0.5, -0.9], chain=models.exp_exp_chain)   # name chain-rule slips

Modules:

* :mod:`.check`: check_gradients and check_derivative, which run the three steps below;
* planning, :mod:`.plan`: which entries, directions and test points;
* judging, :mod:`.judge`: the verdict per entry (one rule), with :mod:`.tolerance`, :mod:`.reference`
  (complex step, central differences, Richardson) and :mod:`.method` (the complex-safety probe,
  numerical_gradient);
* explaining, :mod:`.explain`: the sentences in order, with :mod:`.diagnose` (sentence builders),
  :mod:`.partsfit` (contributions of the loss's parts), :mod:`.mutants` (chain-rule slips from the notes'
  graphs) and :mod:`.context` (the notebook's words);
* :mod:`.student` (calling the student's gradient function), :mod:`.inputs` (validation, exceptions),
  :mod:`.report` (the rows and the text).
"""

from course_lib.gradcheck.check import MODES, check_derivative, check_gradients
from course_lib.gradcheck.context import CONTEXTS, get_context, set_context
from course_lib.gradcheck.inputs import (
    GradientInputError,
    GradientNameError,
    GradientShapeError,
    GradientTypeError,
    NonFiniteInputError,
    NotComplexSafeError,
)
from course_lib.gradcheck.method import METHODS, numerical_gradient
from course_lib.gradcheck.mutants import chain_mistakes
from course_lib.gradcheck.report import FAIL, INCONCLUSIVE, OK, GradientReport, ParamRow
from course_lib.gradcheck.tolerance import Tolerance

__all__ = [
    "CONTEXTS",
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
    "chain_mistakes",
    "check_derivative",
    "check_gradients",
    "get_context",
    "numerical_gradient",
    "set_context",
]
