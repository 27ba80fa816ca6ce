"""The checker's messages: true at every test point, in the words of the notebook, the diagnosis first.

Regression tests for issue 12's cases; each asserts the sentence a student now reads.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from course_lib import gradcheck, models
from course_lib.gradcheck import (
    CONTEXTS,
    GradientInputError,
    chain_mistakes,
    check_derivative,
    check_gradients,
    get_context,
    set_context,
)
from course_lib.guard import AutodiffDisabledError, hand_written_only
from testkit.gradcheck_cases import EXP_EXP_SLIPS, INV_EXP_SLIPS, MISSING_2X, chain_grads, chain_slip, regime


def exp_exp(x):
    return np.exp(np.exp(x**2))


def inv_exp(x):
    return 1 / np.exp(x**2)


@pytest.fixture(autouse=True)
def _general_context():
    set_context(None)
    yield
    set_context(None)


# ------------------------------------------------------------------ a constant factor only when it is one
def test_a_factor_seen_at_one_point_only_is_not_claimed():
    bad = EXP_EXP_SLIPS["every local derivative is evaluated at its step's output"]
    report = check_derivative(exp_exp, bad, [0.5, -0.9], name="dy/dx")
    ratios = [bad(x) / (math.exp(math.exp(x * x)) * math.exp(x * x) * 2 * x) for x in (0.5, -0.9)]
    assert ratios[0] == pytest.approx(14.4, abs=0.05) and ratios[1] == pytest.approx(-5180, rel=1e-3)
    text = str(report)
    assert "off by a constant factor" not in text and "5180" not in text and "every checked entry" not in text
    assert report.diagnoses[0] == (
        "dy/dx: no simple pattern (sign, constant factor, zero) explains the difference. Check the local "
        "derivatives one at a time: is each the derivative of its own step, is each evaluated at its step's "
        "input (not at its output), and is every step's local derivative in the product, the inner ones too?"
    )


def test_the_same_slip_is_named_from_the_chain_at_every_point():
    bad = EXP_EXP_SLIPS["every local derivative is evaluated at its step's output"]
    report = check_derivative(exp_exp, bad, [0.5, -0.9], name="dy/dx", chain=models.exp_exp_chain)
    assert report.diagnoses[0] == (
        "dy/dx: your gradient matches a known mistake: every local derivative is evaluated at its step's "
        "output instead of its input (each local derivative belongs at the point its step starts from)."
    )
    assert report.diagnoses[1] == (
        "dy/dx at test point 2: expected -38.309375 (numerical derivative), received 198440.04 from your "
        "code; 2 of 2 checked entries differ over 2 test points."
    )


@pytest.mark.parametrize(
    ("factor", "sentence"),
    [
        (3.0, "dy/dx: off by a constant factor 3: received = 3 × expected at all 3 test points; the value is "
              "3 times too large. Look for a term counted 3 times or a stray factor 3 (if 3 is the number of "
              "examples, the 1/m of the mean is missing)."),
        (-2.0, "dy/dx: off by a constant factor -2: received = -2 × expected at all 3 test points; the sign is "
               "flipped and the value is twice too large. Look for a term counted 2 times or a stray factor 2."),
        (1 / 3, "dy/dx: off by a constant factor 1/3: received = 1/3 × expected at all 3 test points; the value "
                "is 3 times too small. Look for a missing factor 3 or a stray division by 3."),
        (5180.0, "dy/dx: received = 5180 × expected at all 3 test points: the direction is right but a scale "
                 "factor is wrong; compare each constant factor in your formula with the notes."),
        (-1.0, "dy/dx: the sign is flipped: received = -1 × expected at all 3 test points. Look for a minus sign "
               "dropped or added in one factor."),
    ],
)
def test_factor_names_only_for_small_rationals(factor, sentence):
    def df(x):
        return factor * math.exp(math.exp(x * x)) * math.exp(x * x) * 2 * x

    report = check_derivative(exp_exp, df, [0.5, -0.9, 1.1], name="dy/dx")
    assert report.diagnoses[0] == sentence
    assert "flipped and look" not in str(report)


def test_one_number_is_no_evidence_of_an_unnamed_factor():
    report = check_derivative(lambda x: x**3, 7.7 * 3 * 0.5**2, 0.5, name="dy/dx")
    assert "× expected" not in report.diagnoses[0] and "no simple pattern" in report.diagnoses[0]


# ------------------------------------------------------------------ advice in the notebook's words
CHAIN_RULE_FAILURES = {
    "d_square without 2": (lambda u: u**2, lambda u: u, [0.7, -1.3], "d(u²)/du"),
    "d_reciprocal sign": (lambda u: 1 / u, lambda u: 1 / u**2, [0.7, -1.3], "d(1/u)/du"),
    "exp_exp at outputs": (exp_exp, EXP_EXP_SLIPS["every local derivative is evaluated at its step's output"],
                           [0.5, -0.9], "dy/dx"),
    "inv_exp without 2x": (inv_exp, INV_EXP_SLIPS[MISSING_2X], [0.5, -0.9],
                           "dy/dx"),
    "exp_exp times 3": (exp_exp, lambda x: 3 * math.exp(math.exp(x * x)) * math.exp(x * x) * 2 * x, [0.5, 1.1],
                        "dy/dx"),
    "exp_exp nan": (exp_exp, lambda x: math.nan, [0.5], "dy/dx"),
}


@pytest.mark.parametrize("case", sorted(CHAIN_RULE_FAILURES))
@pytest.mark.parametrize("how", ["keyword", "set_context"])
def test_chain_rule_context_never_mentions_sigma_a_loss_paths_or_examples(case, how):
    f, df, points, name = CHAIN_RULE_FAILURES[case]
    if how == "set_context":
        gradcheck.set_context("chain-rule")
        report = check_derivative(f, df, points, name=name)
    else:
        report = check_derivative(f, df, points, name=name, context="chain-rule")
    text = str(report)
    assert not report.passed
    for word in ("σ", "loss", "path", "examples", "example ", "m = "):
        assert word not in text, (word, text)
    assert name in report.diagnoses[0] and "expected" in text and "received" in text


def test_missing_factor_2_of_d_square_in_the_chain_rule_context():
    report = check_derivative(lambda u: u**2, lambda u: u, [0.7, -1.3], name="d(u²)/du", context="chain-rule")
    assert report.diagnoses[0] == (
        "d(u²)/du: off by a constant factor 1/2: received = 1/2 × expected at all 2 test points; the value is "
        "half what it should be. A factor 2 is missing: expand (u + ε)² − u², divide by ε and see which term "
        "survives."
    )
    before = "look for a missing term (a path or an example not added in)"
    assert before not in str(report)


def test_contexts_are_documented_checked_and_set_for_later_checks():
    assert {"general", "chain-rule", "sigmoid-chain", "many-paths", "all-parameters"} <= set(CONTEXTS)
    for name in CONTEXTS:
        assert f"``{name}``" in gradcheck.context.__doc__
    assert get_context() == "general"
    set_context("sigmoid-chain")
    assert get_context() == "sigmoid-chain"
    with pytest.raises(GradientInputError, match="context must be one of 'general', 'chain-rule'"):
        set_context("chainrule")
    with pytest.raises(GradientInputError, match="context must be one of"):
        check_derivative(exp_exp, lambda x: 0.0, 0.5, context="notebook 1")
    assert get_context() == "sigmoid-chain"
    set_context(None)
    assert get_context() == "general"


def test_general_fallback_is_the_default_and_keeps_old_calls_working():
    bad = INV_EXP_SLIPS[MISSING_2X]
    report = check_derivative(inv_exp, bad, [0.5, -0.9], name="dy/dx")  # a notebook call without context
    assert not report.passed and "σ" not in str(report) and "loss" not in str(report)


def test_sigmoid_and_network_contexts_use_their_words():
    x, w = 1.7, {"w1": 0.5, "w2": -1.2, "w3": 0.8}

    def loss_of(v):
        return models.sigmoid_chain_loss({**w, "w1": v}, x)

    def grad_of(v):
        return chain_slip("no_x", {**w, "w1": v}, x)["w1"]

    report = check_derivative(loss_of, grad_of, w["w1"], name="dL/dw1", context="sigmoid-chain")
    assert report.diagnoses[0] == (
        "dL/dw1: received = 0.5882 × expected at all 2 test points: the direction is right but a scale factor "
        "is wrong; a factor that stays the same when the weight changes is wrong or missing, such as the input x."
    )
    d = regime("ordinary", 3, lam=0.0)
    report = check_gradients(d.loss, d.params, d.bug("sigma_for_dsigma"), context="all-parameters")
    assert "σ'(a) = σ(a)(1 − σ(a)) (not σ(a))" in str(report)  # notebook 04: σ' was graded in 02


# ------------------------------------------------------------------ the new catalogue entries
@pytest.mark.parametrize(
    ("graph", "f", "slips", "points"),
    [
        (models.exp_exp_chain, exp_exp, EXP_EXP_SLIPS, [0.5, -0.9, 1.2]),
        (models.inv_exp_chain, inv_exp, INV_EXP_SLIPS, [-1.5, 0.4, 1.0, 2.0]),
    ],
    ids=["exp_exp", "inv_exp"],
)
def test_each_chain_rule_slip_is_named(graph, f, slips, points):
    for fragment, df in slips.items():
        report = check_derivative(f, df, points, name="dy/dx", chain=graph, context="chain-rule")
        assert not report.passed, fragment
        assert report.diagnoses[0].startswith("dy/dx: your gradient matches a known mistake: "), report.diagnoses
        assert fragment in report.diagnoses[0], (fragment, report.diagnoses[0])


def test_chain_mistake_sentences():
    described = list(chain_mistakes(models.exp_exp_chain, 0.5))
    assert described[0] == "dh1/dx written as x: a factor is missing from the derivative of x²; expand (x + ε)² − x² " \
                           "and divide by ε"
    assert "your product lacks the factor dh1/dx, the local derivative of the step h1 = x²: every step's " \
           "local derivative is a factor, the inner ones too" in described
    assert "dh2/dh1 is evaluated at the step's output h2 instead of its input h1: a local derivative belongs at " \
           "the value its step received" in described
    # the sentences name the factor, never its formula (the graded answer of Exercise 1.2)
    assert not any(re.search(r"d\w+/d\w+ = |= 2x", d) for d in described), described


@pytest.mark.parametrize(
    ("slip", "weight", "sentence"),
    [
        ("no_x", "w1", "your product lacks the inner factor da1/dw1 of a1 = w1·x: it is a factor of the chain "
                       "rule product too"),
        ("no_h1", "w2", "your product lacks the inner factor da2/dw2 of a2 = w2·h1: it is a factor of the "
                        "chain rule product too"),
        ("no_h2", "w3", "your product lacks the inner factor da3/dw3 of a3 = w3·h2: it is a factor of the "
                        "chain rule product too"),
        ("sigma_h1", "w1", "σ where σ' is needed: dh1/da1 is not h1 itself; differentiate σ(a) = 1/(1 + e^(−a))"),
        ("sigma_all", "w1", "σ where σ' is needed in every unit: each unit's output stands where its derivative "
                            "belongs; σ' is not σ: differentiate σ(a) = 1/(1 + e^(−a))"),
    ],
)
def test_sigmoid_chain_slips_are_named(slip, weight, sentence):
    rng = np.random.default_rng(7)
    for _ in range(3):
        x = float(rng.uniform(0.5, 2.0))
        w = {k: float(v) for k, v in zip(("w1", "w2", "w3"), rng.normal(0, 1.5, size=3), strict=True)}
        report = _check_one_weight(lambda p, x=x: chain_slip(slip, p, x), weight, x, w, context="sigmoid-chain")
        assert report.diagnoses[0] == f"dL/d{weight}: your gradient matches a known mistake: {sentence}."
        assert not any("a scale factor is wrong" in s for s in report.diagnoses)  # explained: no vague ratio
        right = _check_one_weight(lambda p, x=x: chain_grads(p, x), weight, x, w)
        assert right.passed and right.diagnoses == []


def _check_one_weight(grads, weight, x, w, **options):
    """Notebook 02's check of one weight, with the notes' graph of the chain for the catalogue."""

    def loss_of(v):
        return models.sigmoid_chain_loss({**w, weight: v}, x)

    def grad_of(v):
        return grads({**w, weight: v})[weight]

    def graph(v):
        return models.sigmoid_chain(x, **{**w, weight: v})

    return check_derivative(
        loss_of, grad_of, w[weight], name=f"dL/d{weight}", chain=graph, chain_input=weight, **options
    )


def test_a_mistake_that_matches_at_one_point_only_is_not_claimed():
    slip = EXP_EXP_SLIPS[MISSING_2X]

    def df(x):  # the slip at x = 0.5 only; elsewhere another wrong value
        return slip(x) if x == 0.5 else 0.9 * slip(x)

    report = check_derivative(exp_exp, df, [0.5, -0.9], name="dy/dx", chain=models.exp_exp_chain)
    assert not report.passed and "known mistake" not in str(report)


def test_fixed_value_mistakes_still_describe_params_as_given():
    """Notebook 02 passes its σ-slips as values at the weights given: they are matched there."""
    x, w = 1.0, {"w1": 0.5, "w2": -1.2, "w3": 0.8}
    true = chain_grads(w, x)["w1"]
    h1 = float(models.sigmoid(w["w1"] * x))
    slips = {"σ where σ' is needed for h1: h1 stands where its derivative belongs": true / (1 - h1)}
    report = check_derivative(
        lambda v: models.sigmoid_chain_loss({**w, "w1": v}, x),
        lambda v: chain_slip("sigma_h1", {**w, "w1": v}, x)["w1"],
        w["w1"],
        name="dL/dw1",
        mistakes=slips,
    )
    assert report.diagnoses[0] == (
        "dL/dw1: your gradient matches a known mistake: σ where σ' is needed for h1: h1 stands where its "
        "derivative belongs."
    )


def test_chain_mistakes_are_off_inside_a_graded_function():
    with hand_written_only("backward_exp_exp"), pytest.raises(AutodiffDisabledError):
        chain_mistakes(models.exp_exp_chain, 0.5)


def test_a_chain_that_cannot_be_built_is_a_clear_error():
    with pytest.raises(GradientInputError, match="chain could not be built at x = 0.5"):
        check_derivative(exp_exp, lambda x: 0.0, 0.5, chain=models.exp_exp_chain, chain_input="w7")


# ------------------------------------------------------------------ merged, ordered, consistent
def test_identical_diagnoses_are_merged_across_parameters():
    d = regime("ordinary", 7, lam=0.0)
    report = check_gradients(d.loss, d.params, d.bug("sign_dz2"))
    assert report.diagnoses[0] == (
        "all 4 parameters (W1, b1, W2, b2): the sign is flipped: received = -1 × expected at every checked "
        "entry of all 2 test points. Look for a minus sign dropped or added in one factor."
    )
    assert str(report).count("the sign is flipped") == 1
    assert [s.split(":")[0] for s in report.diagnoses[1:]] == ["W1", "b1", "W2", "b2"]  # then the numbers


def test_the_diagnosis_comes_first_and_the_reference_details_last():
    report = check_derivative(
        lambda x: math.exp(math.exp(x * x)),  # math.exp: not complex-safe
        lambda x: math.exp(math.exp(x * x)) * math.exp(x * x) * x,
        [0.5, -0.9],
        name="dy/dx",
    )
    lines = str(report).splitlines()
    assert lines[0] == "Gradient check FAILED: 1 of 1 parameters wrong."
    assert lines[1].startswith("1. dy/dx: off by a constant factor 1/2")
    assert lines[-1] == (
        "How this was checked: numerical derivatives by central differences (f raises TypeError on a complex "
        "input: about the reference, not your code); 2 test points; 11 calls of f, 3 of your gradient."
    )
    assert "(f is not complex-safe: it raises TypeError" not in str(report)


def test_every_number_of_a_table_row_comes_from_the_same_entry():
    report = check_derivative(lambda x: x**2, lambda x: x, [0.5, -1.5], name="df/dx")  # notebook 00's demo
    table = report.table().splitlines()
    assert table[0].split() == ["parameter", "shape", "status", "worst", "entry", "yours", "expected", "abs",
                                "err", "rel", "err"]
    assert table[1].split() == ["df/dx", "()", "FAIL", "df/dx", "0.5", "1", "5.0e-01", "5.0e-01"]
    d = regime("ordinary", 2, lam=0.0)
    full = check_gradients(d.loss, d.params, d.bug("no_mean"))
    for row, line in zip(full.rows, full.table().splitlines()[1:], strict=True):
        cells = line.split()
        assert float(cells[-2]) == pytest.approx(abs(row.analytic - row.numeric), rel=0.06)


@pytest.mark.parametrize("bug", ["sign_dz2", "no_mean", "dropped_path", "sigma_for_dsigma", "dw2_transposed"])
def test_every_failing_message_names_the_quantity_expected_received_and_the_mistake(bug):
    d = regime("square", 1)
    report = check_gradients(d.loss, d.params, d.bug(bug), n_examples=8, context="all-parameters")
    for name in report.failed_parameters:
        numbers = [s for s in report.diagnoses if s.startswith(f"{name}: worst entry")]
        assert len(numbers) == 1 and "expected" in numbers[0] and "received" in numbers[0]
    first = report.diagnoses[0]
    assert any(name in first.split(":")[0] for name in report.failed_parameters)
    assert "worst entry" not in first  # the likely mistake comes before the numbers


def test_the_verdict_names_the_exercise_when_the_test_gives_it():
    report = check_derivative(lambda u: u**2, lambda u: u, [2.5, -0.2], name="d(u²)/du", exercise="d_square")
    assert str(report).startswith("Gradient check FAILED for d_square: 1 of 1 parameters wrong.\n1. d(u²)/du: ")
    assert str(check_derivative(lambda u: u**2, lambda u: u, 0.5)).startswith("Gradient check FAILED: 1 of 1")


def test_specific_diagnoses_come_before_the_general_advice():
    d = regime("square", 3)  # with the L2 term: b1 and b2 are off by m, W1 and W2 are not a multiple
    report = check_gradients(d.loss, d.params, d.bug("no_mean"), n_examples=8, context="all-parameters")
    assert report.diagnoses[0].startswith("b1, b2: off by a constant factor m = 8: received = 8 × expected")
    assert report.diagnoses[1].startswith("W1, W2: no simple pattern")


def _at_params_only(d, bug):
    """A gradient function with ``bug`` at the given params and correct at every other point."""

    def grads(p):
        same = all(np.array_equal(p[k], d.params[k]) for k in p)
        return d.bug(bug)(p) if same else d.backward(p)

    return grads


def test_a_parts_fit_seen_at_one_point_only_is_not_claimed():
    d = regime("ordinary", 5)
    everywhere = check_gradients(d.loss, d.params, d.bug("dropped_path"), parts=d.output_parts())
    assert everywhere.diagnoses[0].startswith("W1, b1: compared part by part, your gradient misses the "
                                              "contribution of 'output 2'.")
    once = check_gradients(d.loss, d.params, _at_params_only(d, "dropped_path"), parts=d.output_parts())
    assert not once.passed and "compared part by part" not in str(once)


def test_a_transpose_seen_at_one_point_only_is_not_claimed():
    d = regime("square", 2)
    everywhere = check_gradients(d.loss, d.params, d.bug("dw2_transposed"))
    assert "W2: your gradient is the transpose of the expected one" in everywhere.diagnoses[0]
    once = check_gradients(d.loss, d.params, _at_params_only(d, "dw2_transposed"))
    assert not once.passed and "transpose of the expected" not in str(once)


@pytest.mark.parametrize(
    ("f", "df", "factor"),
    [
        (inv_exp, INV_EXP_SLIPS[MISSING_2X], "2x"),
        (exp_exp, EXP_EXP_SLIPS[MISSING_2X], "2x"),
        (lambda x: np.exp(x**3), lambda x: math.exp(x**3), "3x²"),
    ],
)
def test_a_missing_inner_derivative_is_named_from_the_numbers_alone(f, df, factor):
    report = check_derivative(f, df, [0.5, -0.9, 1.3], name="dy/dx")  # no chain=, no context: notebook 01 today
    assert report.diagnoses[0] == (
        f"dy/dx: received × {factor} = expected at all 3 test points: the factor {factor} is missing. That is the "
        "local derivative of an inner step (such as d(x²)/dx = 2x): every step's local derivative belongs in the "
        "product, the inner ones too."
    )
    one_point = check_derivative(f, df, 0.9, name="dy/dx", n_points=1)
    assert "is missing" not in one_point.diagnoses[0]  # one point is no evidence of a power of x
