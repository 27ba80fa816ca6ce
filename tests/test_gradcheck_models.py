"""The checker on the syllabus models: no false failures, every catalogued bug caught and explained."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import models
from course_lib.gradcheck import GradientReport, check_derivative, check_gradients
from testkit.gradcheck_cases import (
    CHAIN_BUGS,
    NET_BUGS,
    REGIMES,
    SCALAR_CASES,
    chain_bug,
    chain_grads,
    regime,
)

DRAWS = 200  # per regime here; benchmarks/gradcheck.py runs 1,000


# ------------------------------------------------------------------ correct gradients never fail
@pytest.mark.parametrize("name", REGIMES)
def test_no_false_failure_on_correct_gradients(name):
    failures = []
    for seed in range(DRAWS):
        d = regime(name, seed)
        report = check_gradients(d.loss, d.params, d.backward, n_points=1, seed=seed)
        if not report.passed:
            failures.append((seed, str(report)))
    assert not failures, failures[0][1]


def test_no_false_failure_at_several_points_and_in_every_mode():
    for seed in range(20):
        d = regime("ordinary", seed)
        for mode in ("full", "sampled", "directions"):
            report = check_gradients(d.loss, d.params, d.backward, mode=mode, sample=3, n_points=3, seed=seed)
            assert report.passed, str(report)
            assert report.points == 3 and report.mode == mode


def test_sigmoid_chain_correct_gradients_pass():
    rng = np.random.default_rng(0)
    for _ in range(100):
        w = {k: float(v) for k, v in zip(("w1", "w2", "w3"), rng.normal(0, 2, size=3), strict=True)}
        x = float(rng.uniform(-3, 3))
        report = check_gradients(
            lambda p, x=x: models.sigmoid_chain_loss(p, x), w, lambda p, x=x: chain_grads(p, x)
        )
        assert report.passed, str(report)


@pytest.mark.parametrize("name", sorted(SCALAR_CASES))
def test_scalar_functions_pass_at_the_syllabus_points(name):
    case = SCALAR_CASES[name]
    report = check_derivative(case.f, case.df, list(case.points))
    assert report.passed, str(report)
    assert report.points == len(case.points)


# ------------------------------------------------------------------ every catalogued bug is caught
@pytest.mark.parametrize("bug", sorted(NET_BUGS))
def test_every_network_bug_is_caught_at_the_default_points(bug):
    for name in ("ordinary", "square"):
        for seed in range(10):
            d = regime(name, seed)
            if not d.applies(bug):
                continue
            with np.errstate(all="ignore"):
                report = check_gradients(d.loss, d.params, d.bug(bug), seed=seed)
            assert not report.passed, f"{bug} passed at {name} seed {seed}"


@pytest.mark.parametrize("bug", sorted(NET_BUGS))
def test_every_network_bug_is_named_from_the_catalogue(bug):
    d = regime("square", 3)
    with np.errstate(all="ignore"):
        report = check_gradients(d.loss, d.params, d.bug(bug), mistakes=d.catalogue(), n_examples=8)
    first = report.diagnoses[0]
    assert first.endswith(f": your gradient matches a known mistake: {NET_BUGS[bug].description}."), first
    assert any(name in first.split(":")[0] for name in report.failed_parameters), first  # names the parameter


@pytest.mark.parametrize("bug", [b for b in sorted(NET_BUGS) if NET_BUGS[b].keyword])
def test_bugs_are_described_in_plain_words_without_a_catalogue(bug):
    d = regime("square", 4, lam=0.0)
    report = check_gradients(d.loss, d.params, d.bug(bug), n_examples=8)
    assert NET_BUGS[bug].keyword in " ".join(report.diagnoses), str(report)


@pytest.mark.parametrize("bug", CHAIN_BUGS)
def test_sigmoid_chain_bugs_are_caught(bug):
    rng = np.random.default_rng(1)
    for _ in range(20):
        w = {k: float(v) for k, v in zip(("w1", "w2", "w3"), rng.normal(0, 1.5, size=3), strict=True)}
        x = float(rng.uniform(0.5, 2.0))
        report = check_gradients(
            lambda p, x=x: models.sigmoid_chain_loss(p, x), w, lambda p, x=x: chain_bug(bug, p, x)
        )
        assert not report.passed


@pytest.mark.parametrize("name", sorted(SCALAR_CASES))
def test_scalar_bugs_are_caught(name):
    case = SCALAR_CASES[name]
    for bug, df in case.bugs.items():
        report = check_derivative(case.f, df, list(case.points))
        assert not report.passed, bug


# ------------------------------------------------------------------ the diagnoses
def test_failure_message_names_parameter_expected_received_and_the_mistake():
    d = regime("ordinary", 7, lam=0.0)
    report = check_gradients(d.loss, d.params, d.bug("db1_sign"))
    row = {r.name: r for r in report.rows}["b1"]
    assert row.status == "FAIL" and row.analytic == pytest.approx(-row.numeric, rel=1e-6)
    first, second = report.diagnoses[:2]
    assert first.startswith("b1: the sign is flipped: received = -1 × expected")  # the likely mistake first
    assert second.startswith(f"b1: worst entry b1[{row.worst_index[0]}]")  # then the numbers
    assert "(numerical derivative), received" in second and "from your code" in second
    text = str(report)
    assert text.index("the sign is flipped") < text.index("parameter  shape") < text.index("How this was checked")


def test_factor_m_and_one_over_m():
    d = regime("ordinary", 2, lam=0.0)
    text = " ".join(check_gradients(d.loss, d.params, d.bug("no_mean"), n_examples=8).diagnoses)
    assert "off by a constant factor m = 8" in text
    text = " ".join(check_gradients(d.loss, d.params, d.bug("mean_twice"), n_examples=8).diagnoses)
    assert "off by a constant factor 1/m = 1/8" in text
    text = " ".join(check_gradients(d.loss, d.params, d.bug("no_mean")).diagnoses)
    assert "off by a constant factor 8" in text and "number of examples" in text


def test_missing_path_found_from_per_output_parts():
    d = regime("ordinary", 5)
    report = check_gradients(d.loss, d.params, d.bug("dropped_path"), parts=d.output_parts())
    text = " ".join(report.diagnoses)
    assert "W1, b1: compared part by part" in text
    assert "'output 2'" in text and "a path of the chain rule was dropped" in text
    assert "no simple pattern" not in text  # the parts fit explains W1 and b1


def test_missing_regularisation_found_from_parts():
    d = regime("ordinary", 6)
    text = " ".join(
        check_gradients(d.loss, d.params, d.bug("no_regularisation"), parts=d.output_parts()).diagnoses
    )
    assert "misses the contribution of 'L2 term'" in text


def test_one_example_found_from_per_example_parts():
    d = regime("ordinary", 8)
    text = " ".join(
        check_gradients(d.loss, d.params, d.bug("db2_one_example"), parts=d.example_parts()).diagnoses
    )
    assert "contains only the contribution of 'example 0'" in text


def test_transposed_square_gradient():
    d = regime("square", 2)
    text = " ".join(check_gradients(d.loss, d.params, d.bug("dw2_transposed")).diagnoses)
    assert "W2: your gradient is the transpose of the expected one" in text


def test_a_few_wrong_entries_are_listed():
    d = regime("ordinary", 1)
    g = d.backward(d.params)
    g["W1"][2, 0] += 0.5
    text = " ".join(check_gradients(d.loss, d.params, g).diagnoses)
    assert "W1: only 1 of 6 checked entries are wrong (W1[2, 0])" in text


def test_zero_gradient_is_called_zero():
    d = regime("ordinary", 1)
    g = d.backward(d.params)
    g["W2"] = np.zeros_like(g["W2"])
    text = " ".join(check_gradients(d.loss, d.params, g).diagnoses)
    assert "W2: your gradient is zero, but f does depend on W2" in text


@settings(max_examples=15)
@given(seed=st.integers(0, 10_000), bug=st.sampled_from(sorted(NET_BUGS)))
def test_messages_are_deterministic(seed, bug):
    d = regime("square", seed)
    runs = []
    for _ in range(2):
        with np.errstate(all="ignore"):
            runs.append(str(check_gradients(d.loss, d.params, d.bug(bug), parts=d.output_parts(), seed=3)))
    assert runs[0] == runs[1]


# ------------------------------------------------------------------ kinks and borderline entries
def test_relu_kink_is_inconclusive_not_failed():
    assert check_derivative(lambda x: max(x, 0.0), 0.5, 0.0).passed  # the mean of the slopes: a subgradient
    for df in (lambda x: 0.0, lambda x: 1.0):
        report = check_derivative(lambda x: max(x, 0.0), df, 0.0, n_points=1)
        assert report.passed and report.rows[0].status == "inconclusive"
        assert "kink" in str(report)
        assert not check_derivative(lambda x: max(x, 0.0), df, 0.0, n_points=1, strict=True).passed
    assert not check_derivative(lambda x: max(x, 0.0), -1.0, 0.0).passed  # neither one-sided slope


def test_relu_network_with_a_unit_at_its_kink():
    X = np.array([[1.0, 2.0], [0.5, -1.0]])
    weights = np.array([1.0, -2.0])

    def f(p):
        return float(np.sum(np.maximum(X @ p["W"].T + p["b"], 0.0) * weights))

    def df(p, sign=1.0):
        dA = (X @ p["W"].T + p["b"] > 0) * weights * sign
        return {"W": dA.T @ X, "b": dA.sum(axis=0)}

    p = {"W": np.array([[1.0, -0.5], [0.3, 0.2]]), "b": np.array([0.0, 0.1])}  # unit 0 is at 0 for example 0
    report = check_gradients(f, p, df, n_points=1)
    assert report.passed and {r.status for r in report.rows} == {"inconclusive"}
    assert not check_gradients(f, p, lambda q: df(q, -1.0), n_points=1).passed


def test_hard_point_exp_exp_is_not_failed_by_the_reference_error():
    case = SCALAR_CASES["exp_exp"]
    report = check_derivative(case.f, case.df, 2.5, method="central", n_points=1)
    assert report.passed and report.rows[0].status == "ok"


# ------------------------------------------------------------------ the report
def test_report_rows_and_table():
    d = regime("ordinary", 0)
    report = check_gradients(d.loss, d.params, d.backward)
    assert isinstance(report, GradientReport) and report.passed
    assert [r.name for r in report.rows] == ["W1", "b1", "W2", "b2"]
    assert [r.shape for r in report.rows] == [(3, 2), (3,), (2, 3), (2,)]
    for row in report.rows:
        assert row.status == "ok" and row.max_abs_error <= row.tolerance * 10
        assert row.checked == 2 * int(np.prod(row.shape))
    assert report.diagnoses == []
    report.assert_ok()
    assert str(report).startswith("Gradient check passed.")


def test_sampled_mode_on_a_larger_net_is_cheap_and_still_catches_bugs():
    sizes = (20, 30, 4)
    params = models.init_params(1, sizes=sizes)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 20))
    Y = (rng.uniform(size=(16, 4)) < 0.5).astype(float)
    from testkit.gradcheck_cases import Draw

    d = Draw(params, X, Y, 0.0, sizes)
    p = models.flatten(params).size
    report = check_gradients(d.loss, params, d.backward, max_full=100, sample=5, n_points=1)
    assert report.passed and report.mode == "sampled"
    assert report.evaluations < 2 * p / 2
    bad = check_gradients(d.loss, params, d.bug("sigma_for_dsigma"), mode="directions", n_points=1)
    assert not bad.passed and {"W1", "b1"} <= set(bad.failed_parameters)
    assert bad.evaluations < p


def test_direction_check_catches_an_error_in_an_unsampled_entry():
    d = regime("ordinary", 0)
    g = d.backward(d.params)
    g["W1"][0, 0] += 0.3
    report = check_gradients(d.loss, d.params, g, mode="directions")
    assert not report.passed and "W1" in report.failed_parameters


def test_explicit_points_are_checked():
    d = regime("ordinary", 0)
    other = regime("ordinary", 1).params
    calls = []

    def recording(params):
        calls.append(params["W1"].copy())
        return d.backward(params)

    report = check_gradients(d.loss, d.params, recording, points=[other], n_points=1)
    assert report.passed and report.points == 2 and report.gradient_calls == 3
    assert np.array_equal(calls[-1], other["W1"])

    def wrong_far_away(params):
        g = d.backward(params)
        if np.array_equal(params["W1"], other["W1"]):
            g["b2"] = -g["b2"]
        return g

    report = check_gradients(d.loss, d.params, wrong_far_away, points=[other], n_points=1)
    assert not report.passed and "b2: worst entry b2[0] at test point 2" in str(report)


def test_check_gradients_is_not_available_inside_a_graded_function():
    from course_lib import guard

    d = regime("ordinary", 0)
    with guard.hand_written_only("exercise 2"), pytest.raises(guard.AutodiffDisabledError):
        check_gradients(d.loss, d.params, d.backward)


def test_a_loss_that_is_only_partly_complex_safe_falls_back_to_central_differences_where_needed():
    def f(p):  # abs drops the tiny b-term from the complex step; the probe cannot see it
        return p["a"] ** 2 + 1e-7 * abs(p["b"])

    report = check_gradients(f, {"a": 1.0, "b": 0.5}, {"a": 2.0, "b": 1e-7}, n_points=1)
    assert report.method == "complex step"
    assert report.passed, str(report)
    assert any("disagree at b" in note for note in report.notes)
    assert not check_gradients(f, {"a": 1.0, "b": 0.5}, {"a": 2.0, "b": -1e-7}, n_points=1).passed
