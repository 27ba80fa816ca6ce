"""The numerical reference: accuracy, cost, the complex-safety probe and the guard."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import guard, models
from course_lib.gradcheck import NotComplexSafeError, check_derivative, check_gradients, numerical_gradient
from testkit.gradcheck_cases import SCALAR_CASES, backward, chain_grads, net_loss, net_loss_complex, regime


class Counter:
    """Wraps a loss and counts its real and complex evaluations."""

    def __init__(self, f):
        self.f, self.real, self.complex = f, 0, 0

    def __call__(self, params):
        values = params.values() if isinstance(params, dict) else [params]
        if any(np.iscomplexobj(v) for v in values):
            self.complex += 1
        else:
            self.real += 1
        return self.f(params)


def _flat(g: dict[str, np.ndarray]) -> np.ndarray:
    return models.flatten(g)


def test_central_is_accurate_to_1e9_at_ordinary_points():
    worst = 0.0
    for seed in range(40):
        d = regime("ordinary", seed)
        a = _flat(d.backward(d.params))
        n = _flat(numerical_gradient(d.loss, d.params, method="central"))
        worst = max(worst, float(np.max(np.abs(n - a)) / np.max(np.abs(a))))
    assert worst <= 1e-9


def test_complex_step_is_accurate_to_1e12():
    worst = 0.0
    for seed in range(40):
        d = regime("ordinary", seed)
        a = _flat(d.backward(d.params))
        n = _flat(
            numerical_gradient(
                lambda p, d=d: net_loss_complex(p, d.X, d.Y, d.lam), d.params, method="complex"
            )
        )
        big = np.abs(a) > 1e-3 * np.max(np.abs(a))
        worst = max(worst, float(np.max(np.abs(n - a)[big] / np.abs(a[big]))))
    assert worst <= 1e-12


def test_auto_uses_complex_step_when_safe_and_central_otherwise():
    d = regime("ordinary", 3)
    safe = check_gradients(lambda p: net_loss_complex(p, d.X, d.Y, d.lam), d.params, d.backward(d.params))
    unsafe = check_gradients(d.loss, d.params, d.backward(d.params))
    assert safe.method == "complex step" and safe.passed
    assert unsafe.method == "central differences" and unsafe.passed
    assert "not complex-safe" in unsafe.method_note


UNSAFE = [
    lambda x: float(np.exp(x)),  # float() of a complex raises
    lambda x: np.abs(x) ** 3 + x,  # abs drops the imaginary part of one term
    lambda x: abs(x * x) + 1.0,  # abs of the whole: a real result
    lambda x: math.exp(x),  # math rejects complex
    lambda x: np.where(np.real(x) > 0, x * x, 0.0).real.sum() + 0 * x,  # .real in the middle
    lambda x: np.asarray(x, dtype=np.float64) ** 2,  # a cast to float64 (ComplexWarning)
]


@pytest.mark.parametrize("f", UNSAFE)
def test_probe_rejects_functions_that_are_not_complex_safe(f):
    counter = Counter(f)
    g = numerical_gradient(counter, 1.3)
    assert counter.complex == 1  # the probe only
    exact = numerical_gradient(f, 1.3, method="richardson")
    assert g == pytest.approx(exact, rel=1e-6)
    report = check_derivative(f, exact, 1.3)
    assert report.method == "central differences" and "not complex-safe" in report.method_note


@pytest.mark.parametrize("f", [UNSAFE[0], UNSAFE[2], UNSAFE[3], UNSAFE[5]])
def test_requested_complex_step_refuses_a_function_that_drops_the_imaginary_part(f):
    with pytest.raises(NotComplexSafeError):
        numerical_gradient(f, 1.3, method="complex")


def test_models_loss_is_detected_as_not_complex_safe():
    d = regime("ordinary", 0)
    r = check_gradients(lambda p: models.loss(p, d.X, d.Y), d.params, lambda p: backward(p, d.X, d.Y, 0.0))
    assert r.method == "central differences"


def test_cost_central_2p_plus_1_and_complex_p():
    d = regime("ordinary", 1)
    p = models.flatten(d.params).size
    real = Counter(d.loss)
    numerical_gradient(real, d.params, method="central")
    assert (real.real, real.complex) == (2 * p + 1, 0)
    cx = Counter(lambda q: net_loss_complex(q, d.X, d.Y, d.lam))
    numerical_gradient(cx, d.params, method="complex")
    assert (cx.real, cx.complex) == (0, p)
    checked = Counter(d.loss)
    report = check_gradients(checked, d.params, d.backward(d.params), method="central")
    assert report.evaluations == checked.real == 2 * p + 1


def test_auto_probe_overhead_is_small():
    d = regime("ordinary", 2)
    p = models.flatten(d.params).size
    cx = Counter(lambda q: net_loss_complex(q, d.X, d.Y, d.lam))
    report = check_gradients(cx, d.params, d.backward(d.params))
    assert report.evaluations == cx.real + cx.complex <= p + 5
    real = Counter(d.loss)
    report = check_gradients(real, d.params, d.backward(d.params))
    assert report.evaluations == real.real + real.complex <= 2 * p + 5


def test_exp_exp_at_2_5_passes_with_either_reference():
    case = SCALAR_CASES["exp_exp"]
    numpy_f = lambda x: np.exp(np.exp(x * x))  # noqa: E731 - complex-safe
    assert check_derivative(numpy_f, case.df, 2.5).passed
    report = check_derivative(case.f, case.df, 2.5)  # math.exp: central differences + Richardson
    assert report.passed and report.method == "central differences"
    assert report.rows[0].max_rel_error < 1e-6
    assert not check_derivative(case.f, lambda x: case.df(x) * (1 + 1e-3), 2.5).passed


def test_complex_step_where_the_product_would_underflow():
    f = lambda x: np.exp(-700.0 * x) * 1e-10  # noqa: E731 - derivative about 1e-312 at x = 1
    g = numerical_gradient(f, 1.0, method="complex")
    exact = -700.0 * 1e-10 * math.exp(-700.0)
    assert g == pytest.approx(exact, rel=1e-6)


def test_numerical_gradient_keeps_the_structure_of_params():
    g = numerical_gradient(
        lambda p: p["a"] ** 2 + np.sum(p["b"] ** 3), {"a": 1.5, "b": np.array([[1.0, -2.0]])}
    )
    assert isinstance(g["a"], float) and g["a"] == pytest.approx(3.0)
    assert isinstance(g["b"], np.ndarray) and g["b"].shape == (1, 2) and g["b"].dtype == np.float64
    np.testing.assert_allclose(g["b"], [[3.0, 12.0]], rtol=1e-12)
    assert numerical_gradient(lambda x: x**3, 2.0) == pytest.approx(12.0, rel=1e-12)


def test_numerical_gradient_is_switched_off_inside_hand_written_only():
    with (
        guard.hand_written_only("backward_sigmoid_chain"),
        pytest.raises(guard.AutodiffDisabledError) as info,
    ):
        numerical_gradient(lambda x: x * x, 1.0)
    assert "course_lib.gradcheck.numerical_gradient" in str(info.value)
    assert "backward_sigmoid_chain" in str(info.value)


def test_student_backward_runs_inside_the_guard():
    d = regime("ordinary", 0)

    def cheating_backward(params):
        return numerical_gradient(d.loss, params)

    with pytest.raises(guard.AutodiffDisabledError) as info:
        check_gradients(d.loss, d.params, cheating_backward, exercise="exercise 3: backward")
    assert "exercise 3: backward" in str(info.value)
    assert "hand-written backward pass" in str(info.value)

    def graph_backward(params):
        nodes = models.network_graph(params, d.X[0], d.Y[0])
        nodes["L"].backward()
        return {}

    with pytest.raises(guard.AutodiffDisabledError):
        check_gradients(d.loss, d.params, graph_backward)
    assert not guard.is_disabled()
    # outside the student's function everything works again
    assert check_gradients(d.loss, d.params, d.backward).passed


def test_sigmoid_chain_loss_of_a_dict_of_floats():
    w = {"w1": 0.7, "w2": -1.2, "w3": 2.0}
    report = check_gradients(lambda p: models.sigmoid_chain_loss(p, 1.5), w, lambda p: chain_grads(p, 1.5))
    assert report.passed, str(report)
    g = numerical_gradient(lambda p: models.sigmoid_chain_loss(p, 1.5), w)
    assert set(g) == {"w1", "w2", "w3"} and all(isinstance(v, float) for v in g.values())
    for key, value in chain_grads(w, 1.5).items():
        assert g[key] == pytest.approx(value, rel=1e-8)


@settings(max_examples=40)
@given(
    coeffs=st.lists(st.floats(-3, 3), min_size=3, max_size=3),
    x=st.floats(-2.0, 2.0),
)
def test_polynomials_exp_and_sin_both_methods(coeffs, x):
    a, b, c = coeffs

    def f(t):
        return a * t**3 + b * np.sin(t) + c * np.exp(0.5 * t)

    exact = 3 * a * x**2 + b * math.cos(x) + 0.5 * c * math.exp(0.5 * x)
    scale = abs(a) * (3 * x**2 + 1) + abs(b) + abs(c) * math.exp(0.5 * x) + 1e-300
    assert abs(numerical_gradient(f, x, method="complex") - exact) <= 1e-14 * scale + 1e-30
    assert abs(numerical_gradient(f, x, method="central") - exact) <= 1e-8 * scale
    assert check_derivative(f, lambda t: 3 * a * t**2 + b * np.cos(t) + 0.5 * c * np.exp(0.5 * t), x).passed


def test_net_loss_complex_matches_net_loss():
    d = regime("ordinary", 5)
    assert float(np.real(net_loss_complex(d.params, d.X, d.Y, d.lam))) == pytest.approx(
        net_loss(d.params, d.X, d.Y, d.lam), rel=1e-13
    )
