"""Every bad input gets its own clear message: a specific exception, or a failed report that says why."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.gradcheck import (
    GradientInputError,
    GradientNameError,
    GradientShapeError,
    GradientTypeError,
    NonFiniteInputError,
    check_derivative,
    check_gradients,
)
from testkit.gradcheck_cases import backward, regime

D = regime("ordinary", 0)
GOOD = D.backward(D.params)


def with_(**changes):
    g = {k: v.copy() for k, v in GOOD.items()}
    g.update(changes)
    return g


def check(grads, **options):
    return check_gradients(D.loss, D.params, grads, **options)


# ------------------------------------------------------------------ NaN and inf never pass
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_the_gradient_fails_with_its_own_message(bad):
    g = with_(b1=np.array([0.1, bad, 0.2]))
    report = check(g)
    assert not report.passed
    row = {r.name: r for r in report.rows}["b1"]
    assert row.status == "FAIL" and row.worst_index == (1,)
    text = str(report)
    assert "b1 contains" in text and ("NaN" in text or "inf" in text)
    assert "never passes" in text
    with pytest.raises(AssertionError) as info:
        report.assert_ok()
    assert str(info.value) == text


def test_nan_from_a_gradient_function_fails_at_any_point():
    def sometimes_nan(params):
        g = backward(params, D.X, D.Y, D.lam)
        if not np.array_equal(params["W1"], D.params["W1"]):
            g["W2"][0, 0] = np.nan
        return g

    report = check(sometimes_nan)
    assert not report.passed and "W2 contains NaN" in str(report)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_in_params_is_refused(bad):
    params = {k: v.copy() for k, v in D.params.items()}
    params["W2"][1, 1] = bad
    with pytest.raises(NonFiniteInputError, match=r"params\['W2'\] is .* at index \[1, 1\]"):
        check_gradients(D.loss, params, GOOD)


def test_a_loss_that_is_nan_at_the_point_is_refused():
    with (
        np.errstate(invalid="ignore"),
        pytest.raises(NonFiniteInputError, match="not a finite number|is nan"),
    ):
        check_derivative(lambda x: np.log(x), 1.0, -1.0)
    with pytest.raises(NonFiniteInputError, match="the loss f"):
        check_gradients(lambda p: float("inf"), {"w": 1.0}, {"w": 0.0})


def test_a_loss_that_overflows_next_to_the_point_is_refused_with_the_entry():
    def f(x):
        return float(np.exp(np.exp(x * x))) if x < 2.5000001 else float("inf")

    with pytest.raises(NonFiniteInputError, match=r"moved from 2\.5"):
        check_derivative(f, 1.0, 2.5, method="central")


# ------------------------------------------------------------------ names
def test_missing_name():
    g = dict(GOOD)
    del g["b2"]
    with pytest.raises(GradientNameError, match=r"grads is missing 'b2'"):
        check(g)


def test_extra_name():
    g = dict(GOOD)
    g["b3"] = np.zeros(2)
    with pytest.raises(GradientNameError, match=r"grads has 'b3', which is not a parameter"):
        check(g)


def test_d_prefixed_names_get_a_hint():
    g = {"d" + k: v for k, v in GOOD.items()}
    with pytest.raises(GradientNameError) as info:
        check(g)
    assert "grads['W1'] holds dL/dW1, not grads['dW1']" in str(info.value)


def test_a_function_returning_wrong_names_is_named_in_the_message():
    def my_backward(params):
        g = backward(params, D.X, D.Y, D.lam)
        g["w1"] = g.pop("W1")
        return g

    with pytest.raises(
        GradientNameError,
        match=r"my_backward\(params\) is missing 'W1'.*'w1' differs from 'W1' only in upper/lower case",
    ):
        check(my_backward)


def test_dict_versus_single_value():
    with pytest.raises(GradientTypeError, match="params is a dict"):
        check(np.zeros(17))
    with pytest.raises(GradientTypeError, match="params is a single value"):
        check_derivative(lambda x: x * x, {"x": 2.0}, 1.0)


# ------------------------------------------------------------------ shapes
def test_transposed_gradient_is_called_transposed():
    with pytest.raises(GradientShapeError) as info:
        check(with_(W1=GOOD["W1"].T))
    text = str(info.value)
    assert "grads['W1'] has shape (2, 3) but W1 has shape (3, 2)" in text
    assert "transposed" in text


def test_keepdims_bias_and_wrong_axis():
    with pytest.raises(GradientShapeError, match="drop keepdims=True or reshape"):
        check(with_(b1=GOOD["b1"].reshape(1, 3)))
    with pytest.raises(GradientShapeError, match=r"sum over the examples axis \(axis=0\)"):
        check(with_(b1=np.zeros(8)))
    with pytest.raises(GradientShapeError, match="forget to sum"):
        check(with_(b2=np.zeros((8, 2))))


def test_scalar_parameter_given_an_array():
    with pytest.raises(GradientShapeError, match=r"has shape \(1,\) but x has shape \(\)"):
        check_derivative(lambda x: x * x, np.array([2.0]), 1.0)


# ------------------------------------------------------------------ values that are not numbers
@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], "is a Python list, not an array: build it with np.array"),
        ((0.1, 0.2, 0.3), "is a Python tuple"),
        (None, "is None, not a number: did the function forget a `return`"),
        ("0.5", "is a builtins.str, not a number"),
        (True, "is the boolean True"),
        (np.zeros((3, 2), dtype=np.float32), "dtype float32; the course computes in float64"),
        (np.zeros((3, 2), dtype=object), "array of Python objects"),
        (np.zeros((3, 2), dtype=complex), "complex array"),
        (np.zeros((3, 2), dtype=bool), "boolean array"),
    ],
)
def test_values_that_are_not_numbers(value, pattern):
    with pytest.raises(GradientTypeError, match=pattern):
        check(with_(W1=value))


def test_sympy_objects():
    x = sp.Symbol("x")
    for expr in (2 * x, x):
        with pytest.raises(GradientTypeError, match=r"sympy expression .* still contains the symbol\(s\) x"):
            check_derivative(lambda t: t * t, expr, 1.0)
    with pytest.raises(
        GradientTypeError, match=r"sympy number \(2\.0+\), not a float: convert it with float"
    ):
        check_derivative(lambda t: t * t, sp.Float(2.0), 1.0)
    arr = np.array([[sp.Float(1.0)] * 2] * 3, dtype=object)
    with pytest.raises(GradientTypeError, match="array of sympy objects"):
        check(with_(W1=arr))


def test_gradient_errors_are_value_and_type_errors():
    assert issubclass(GradientTypeError, TypeError) and issubclass(GradientTypeError, ValueError)
    for cls in (GradientNameError, GradientShapeError, NonFiniteInputError, GradientTypeError):
        assert issubclass(cls, GradientInputError) and issubclass(cls, ValueError)


def test_ints_are_numbers():
    assert check_derivative(lambda x: 3 * x, 3, 2).passed
    assert check_gradients(
        lambda p: float(np.sum(p["v"] * 2)), {"v": np.array([1, 2])}, {"v": np.array([2, 2])}
    ).passed


def test_loss_that_returns_an_array_or_a_non_number():
    with pytest.raises(GradientInputError, match="must return one number, the loss"):
        check_gradients(lambda p: p["v"] ** 2, {"v": np.ones(3)}, {"v": np.ones(3)})
    with pytest.raises(GradientTypeError, match="f must return the loss as a float"):
        check_derivative(lambda x: None, 1.0, 1.0)


def test_loss_that_writes_into_params():
    def bad_loss(p):
        p["v"] += 1
        return float(np.sum(p["v"]))

    with pytest.raises(GradientInputError, match="f changed the parameters it was given"):
        check_gradients(bad_loss, {"v": np.ones(2)}, {"v": np.ones(2)})


# ------------------------------------------------------------------ gradients that change or write
def test_gradient_that_changes_between_two_identical_calls():
    total = {k: np.zeros_like(v) for k, v in D.params.items()}

    def accumulating(params):
        for k, v in backward(params, D.X, D.Y, D.lam).items():
            total[k] += v
        return {k: v.copy() for k, v in total.items()}

    report = check(accumulating)
    assert not report.passed
    text = str(report)
    assert "changed between two identical calls" in text
    assert "accumulate into a global" in text
    assert "the second call returned 2 × the first" in text


def test_random_gradient_is_not_deterministic():
    rng = np.random.default_rng(1)

    def noisy(params):
        g = backward(params, D.X, D.Y, D.lam)
        g["b2"] = g["b2"] + rng.normal(scale=1e-3, size=2)
        return g

    report = check(noisy)
    assert not report.passed
    assert {r.name for r in report.rows if r.status == "FAIL"} >= {"b2"}
    assert "b2: your gradient changed between two identical calls" in str(report)


def test_gradient_function_that_writes_into_params():
    def sgd_inside(params):
        g = backward(params, D.X, D.Y, D.lam)
        params["W1"] -= 0.1 * g["W1"]
        return g

    report = check(sgd_inside)
    assert not report.passed
    assert "changed params['W1'] in place" in str(report)
    assert str(report).count("in place") == 1
    # the caller's params are untouched
    assert np.array_equal(D.params["W1"], regime("ordinary", 0).params["W1"])


# ------------------------------------------------------------------ options
@pytest.mark.parametrize(
    "options",
    [
        {"method": "forward"},
        {"mode": "fast"},
        {"sample": 0},
        {"n_points": 0},
        {"seed": -1},
        {"perturbation": 0.0},
        {"rtol": 2.0},
        {"atol_rel": -1.0},
        {"n_examples": 0},
    ],
)
def test_bad_options(options):
    with pytest.raises(GradientInputError):
        check(GOOD, **options)


def test_points_need_a_function_and_matching_shapes():
    with pytest.raises(GradientInputError, match="points= needs grads to be a function"):
        check(GOOD, points=[D.params])
    with pytest.raises(GradientInputError, match=r"points\[0\] does not have the names and shapes"):
        check(D.backward, points=[{"W1": np.zeros((3, 2))}])


def test_parts_must_add_up_to_f():
    with pytest.raises(GradientInputError, match="parts do not add up to f"):
        check(GOOD, parts={"half": lambda p: 0.5 * D.loss(p)})


@settings(max_examples=60)
@given(
    junk=st.one_of(
        st.none(),
        st.text(max_size=3),
        st.lists(st.floats(allow_nan=False), max_size=3),
        st.dictionaries(st.text(max_size=2), st.floats(), max_size=2),
        st.booleans(),
        st.complex_numbers(allow_nan=False, allow_infinity=False),
    )
)
def test_any_junk_gradient_raises_a_gradient_input_error(junk):
    with pytest.raises(GradientInputError) as info:
        check_gradients(lambda p: float(np.sum(p["w"] ** 2)), {"w": np.ones(3)}, {"w": junk})
    assert "grads['w']" in str(info.value)


def test_a_single_wrong_number_is_not_called_a_constant_factor():
    import math

    from course_lib.gradcheck import check_derivative

    report = check_derivative(lambda x: math.sin(x), lambda x: math.cos(x) + 0.37, 0.4)
    text = " ".join(report.diagnoses)
    assert not report.passed and "off by a constant factor" not in text
    doubled = check_derivative(lambda x: math.sin(x), lambda x: 2 * math.cos(x), 0.4)
    assert "factor 2" in " ".join(doubled.diagnoses)
