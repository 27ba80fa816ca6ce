"""course_lib.checks.chain: the generic self-check helpers of notebook 02 (issue 16), and the plot's axis name."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from course_lib import models
from course_lib.checks import (
    RightGivenYours,
    check_entries,
    check_update,
    check_weight,
    complex_sigmoid,
    sigma_slips,
)
from course_lib.drawing import draw_function_and_derivative
from course_lib.gradcheck import numerical_gradient
from course_lib.guard import AutodiffDisabledError
from testkit.gradcheck_cases import chain_grads, chain_slip

X, W = 0.8, {"w1": 0.5, "w2": -1.2, "w3": 0.8}


def _units(w: dict[str, float], x: float) -> dict[str, float]:
    nodes = models.sigmoid_chain(x, w["w1"], w["w2"], w["w3"])
    return {u: nodes[u].value for u in ("h1", "h2", "y")}


def test_complex_sigmoid_agrees_with_the_models_sigmoid_and_takes_a_complex_step():
    for a in (-4.0, -0.3, 0.0, 2.5):
        assert complex_sigmoid(a) == pytest.approx(models.sigmoid(a), rel=1e-15)
        s = models.sigmoid(a)
        assert (complex_sigmoid(a + 1e-30j).imag / 1e-30) == pytest.approx(s * (1 - s), rel=1e-12)


def test_check_entries_passes_agreeing_values_and_names_the_wrong_key_with_its_hint():
    check_entries("f(1)", {"a": 1.0, "b": 2.0, "extra": 9.0}, {"a": 1.0, "b": 2.0})
    with pytest.raises(AssertionError) as err:
        check_entries("f(1)", {"a": 1.0, "b": 2.5}, {"a": 1.0, "b": 2.0}, {"b": "b = 2a."})
    assert str(err.value) == "f(1)['b']: expected 2, received 2.5. Likely mistake: b = 2a."


@pytest.mark.parametrize(("got", "words"), [
    ({"a": 1.0}, "must return a dict with the keys a, b; missing b"),
    ([1.0, 2.0], "missing a, b (it returned [1.0, 2.0])"),
    ({"a": 1.0, "b": math.nan}, "f(1)['b']: expected 2, received nan"),
    ({"a": 1.0, "b": "2"}, "f(1)['b']: expected 2, received '2'"),
])
def test_check_entries_says_what_is_missing_or_not_a_number(got, words):
    with pytest.raises(AssertionError, match=words.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]")):
        check_entries("f(1)", got, {"a": 1.0, "b": 2.0})


def test_sigma_slips_divide_the_true_gradient_by_one_minus_each_unit():
    units = {"y": 0.9, "h2": 0.6, "h1": 0.3}
    slips = sigma_slips(-0.5, units, ["y", "h2"])
    assert slips == {
        "σ where σ' is needed for y: the unit's output y stands where its derivative belongs (σ' is not σ: "
        "your d_sigmoid of Exercise 2.2 (a))": pytest.approx(-5.0),
        "σ where σ' is needed for h2: the unit's output h2 stands where its derivative belongs (σ' is not σ: "
        "your d_sigmoid of Exercise 2.2 (a))": pytest.approx(-1.25),
        "σ where σ' is needed in every unit: each unit's output stands where its derivative belongs":
            pytest.approx(-12.5),
    }
    assert [s.split(":")[0] for s in sigma_slips(1.0, units, ["y"])] == ["σ where σ' is needed for y"]
    assert not any("(1 −" in s for s in slips), "the message names the slip, not the formula of σ'"
    with pytest.raises(KeyError, match="no output given for the unit"):
        sigma_slips(1.0, units, ["h3"])


def _grad(slip: str | None, name: str):
    def grad_fn(x: float, w: dict[str, float]) -> float:
        return (chain_grads(w, x) if slip is None else chain_slip(slip, w, x))[name]

    grad_fn.__name__ = f"grad_{name}"
    return grad_fn


@pytest.mark.parametrize("name", ["w1", "w2", "w3"])
def test_check_weight_passes_the_right_gradient(name):
    check_weight(models.sigmoid_chain_loss, _grad(None, name), name, X, W, graph=models.sigmoid_chain)


def test_check_weight_names_a_sigma_slip_from_the_catalogue_and_the_exercise():
    true = chain_grads(W, X)["w1"]
    slips = sigma_slips(true, _units(W, X), ["y", "h2", "h1"])
    with pytest.raises(AssertionError) as err:
        check_weight(models.sigmoid_chain_loss, _grad("sigma_h1", "w1"), "w1", X, W, mistakes=slips)
    message = str(err.value)
    assert message.startswith("Gradient check FAILED for grad_w1")
    assert "dL/dw1: your gradient matches a known mistake: σ where σ' is needed for h1: the unit's output h1 " \
        "stands where its derivative belongs" in message


def test_check_weight_uses_the_graph_for_the_chain_rule_slips():
    with pytest.raises(AssertionError, match=r"your product lacks the inner factor da1/dw1 of a1 = w1·x"):
        check_weight(models.sigmoid_chain_loss, _grad("no_x", "w1"), "w1", 1.7, W, graph=models.sigmoid_chain)


def test_check_weight_refuses_an_unknown_weight_and_does_not_change_w():
    w = dict(W)
    with pytest.raises(KeyError, match="'w4' is not one of the weights w1, w2, w3"):
        check_weight(models.sigmoid_chain_loss, _grad(None, "w1"), "w4", X, w)
    check_weight(models.sigmoid_chain_loss, _grad(None, "w2"), "w2", X, w)
    assert w == W


def test_function_and_derivative_plot_names_its_variable():
    fig = draw_function_and_derivative(lambda v: v * v, lambda v: 2 * v, np.linspace(-1, 1, 21), name="L",
                                       variable="w1")
    top, bottom = fig.axes
    assert bottom.get_xlabel() == "w1"
    assert (top.get_ylabel(), bottom.get_ylabel()) == ("L(w1)", "L′(w1)")
    assert fig.alt_text.startswith("Two panels over w1 from -1 to 1: L(w1) on top")
    header = fig.alt_text.split("Sample points:\n\n")[1].splitlines()[0]
    assert header.split() == ["w1", "L(w1)", "L'(w1)"]
    default = draw_function_and_derivative(lambda v: v, lambda v: 1.0, [0.0, 1.0])
    assert default.axes[1].get_xlabel() == "x" and "over x from 0" in default.alt_text


def _step(sign: float = -1.0, *, mutate: bool = False, grads=chain_grads):
    def gradient_descent_step(x: float, w: dict[str, float], lr: float) -> dict[str, float]:
        g = grads(w, x)
        new = {k: w[k] + sign * lr * g[k] for k in w}
        if mutate:
            w.update(new)
        return new

    return gradient_descent_step


def test_check_update_passes_a_right_step_and_leaves_w_alone():
    w = dict(W)
    check_update(_step(), models.sigmoid_chain_loss, X, w, 0.5)
    assert w == W


@pytest.mark.parametrize(("step", "words"), [
    (_step(+1.0), "w' ['w1'] after one step with lr = 0.5: expected"),
    (_step(mutate=True), "gradient_descent_step changed the dict w it was given: build and return a new dict."),
    (lambda x, w, lr: [1.0], "must return a dict with the keys w1, w2, w3; it returned [1.0]"),
])
def test_check_update_names_what_is_wrong(step, words):
    with pytest.raises(AssertionError) as err:
        check_update(step, models.sigmoid_chain_loss, X, dict(W), 0.5)
    assert words in str(err.value)
    if "expected" in words:
        assert "subtract (adding climbs the loss)" in str(err.value)


def test_check_update_asks_on_mismatch_only_when_the_step_is_wrong():
    seen = []
    check_update(_step(), models.sigmoid_chain_loss, X, dict(W), 0.5, on_mismatch=seen.append)
    assert seen == []

    def right_for_yours(new):
        raise RightGivenYours("your update is right for your gradients")

    with pytest.raises(RightGivenYours):
        check_update(_step(grads=lambda w, x: chain_slip("no_x", w, x)), models.sigmoid_chain_loss, X, dict(W), 0.5,
                     on_mismatch=right_for_yours)


def test_check_update_switches_course_libs_gradients_off_inside_the_step():
    def cheat(x, w, lr):
        g = numerical_gradient(lambda p: models.sigmoid_chain_loss(p, x), w)
        return {k: w[k] - lr * g[k] for k in w}

    with pytest.raises(AutodiffDisabledError, match="while cheat runs"):
        check_update(cheat, models.sigmoid_chain_loss, X, dict(W), 0.5)


# ------------------------------------------------------------------ factor-level diagnoses (issue 23, item 4)
def test_a_missing_factor_of_the_chain_product_is_named_without_its_value():
    """grad_w1 without dh2/dh1: before issue 23 the checker said "no simple pattern ... check each factor"."""
    def grad_w1(x: float, w: dict[str, float]) -> float:
        h1 = float(models.sigmoid(w["w1"] * x))
        h2 = float(models.sigmoid(w["w2"] * h1))
        return chain_grads(w, x)["w1"] / (h2 * (1 - h2) * w["w2"])

    with pytest.raises(AssertionError) as err:
        check_weight(models.sigmoid_chain_loss, grad_w1, "w1", X, W, graph=models.sigmoid_chain)
    message = str(err.value)
    assert "dL/dw1: your gradient matches a known mistake: dL/dw1 lacks the factor dh2/dh1" in message
    assert "no simple pattern" not in message


def test_a_doubled_factor_is_named_too():
    def grad_w2(x: float, w: dict[str, float]) -> float:
        h1 = float(models.sigmoid(w["w1"] * x))
        h2 = float(models.sigmoid(w["w2"] * h1))
        return chain_grads(w, x)["w2"] * h2 * (1 - h2) * h1

    with pytest.raises(AssertionError, match="dL/dw2 has the factor dh2/dw2 twice"):
        check_weight(models.sigmoid_chain_loss, grad_w2, "w2", X, W, graph=models.sigmoid_chain)


def test_factor_sentence_names_a_path_by_its_nodes_and_the_missing_edge():
    from course_lib.checks import factor_sentence, path_factors, path_route
    from course_lib.paths import enumerate_paths

    g = models.network_graph(models.init_params(seed=1), np.array([0.8, -0.5]), np.array([1.0, 0.0]))
    first = enumerate_paths(g["w_131"], g["L"])[0]
    assert path_route(first) == "w_131 → a_13 → h_13 → a_21 → yhat_1 → L"
    w213 = path_factors(first)["∂a_21/∂h_13"]
    sentence = factor_sentence("your product", first.product / w213, first.product, path_factors(first))
    assert sentence.startswith("your product lacks the factor ∂a_21/∂h_13")
    assert f"{w213:.3g}" not in sentence  # the factor is named, its value is not given
    assert factor_sentence("p", first.product * w213, first.product, path_factors(first)).startswith(
        "p has the factor ∂a_21/∂h_13 once too often")
    assert factor_sentence("p", first.product * 1.37, first.product, path_factors(first)) is None
