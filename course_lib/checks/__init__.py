"""What the notebooks' test cells (and their ``check-helpers`` cells) call; a student's own code needs none of it.

::

    from course_lib.checks import expect_close, hidden_case, judge_alone, use_references

Nothing here is a graded answer or the reference of one: every expected value is passed in by the caller or
comes from course_lib's numerical gradient (switched off inside a graded function, :mod:`course_lib.guard`).

* :mod:`.judging` — judge one exercise at a time (:func:`judge_alone`, :func:`use_references`), name a
  hidden case (:func:`hidden_case`), and the verdicts ``backprop-course check`` reads (:class:`OwnCodeRight`,
  :class:`NotJudgedYet`, :class:`RightGivenYours`);
* :mod:`.values` — :func:`expect_close`, one number against the expected one;
* :mod:`.examples` — :func:`random_example`, held-out test points for the network's checks;
* :mod:`.chain` — self-checks for models whose weights come in a dict (notebook 02) and for paths (03);
* :mod:`.param_dicts` — entry-wise checks of returned parameter dicts and vectors (notebook 04).

What a student calls (the models, the graph, the checker, drawings, widgets) is in the other modules of
:mod:`course_lib`.
"""

from course_lib.checks.chain import (
    check_entries,
    check_update,
    check_weight,
    complex_sigmoid,
    factor_sentence,
    factor_slips,
    path_factors,
    path_route,
    sigma_slips,
)
from course_lib.checks.examples import random_example
from course_lib.checks.judging import (
    NotJudgedYet,
    OwnCodeRight,
    RightGivenYours,
    hidden_case,
    judge_alone,
    use_references,
)
from course_lib.checks.param_dicts import (
    assert_param_shapes,
    assert_params_close,
    assert_same_params,
    assert_vector_equal,
    copy_params,
    loss_by_output,
)
from course_lib.checks.values import expect_close

__all__ = [
    "NotJudgedYet",
    "OwnCodeRight",
    "RightGivenYours",
    "assert_param_shapes",
    "assert_params_close",
    "assert_same_params",
    "assert_vector_equal",
    "check_entries",
    "check_update",
    "check_weight",
    "complex_sigmoid",
    "copy_params",
    "expect_close",
    "factor_sentence",
    "factor_slips",
    "hidden_case",
    "judge_alone",
    "loss_by_output",
    "path_factors",
    "path_route",
    "random_example",
    "sigma_slips",
    "use_references",
]
