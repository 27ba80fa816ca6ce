"""Tests of course_lib.widgets, driven without a browser: set values, click buttons, read the text."""

import math

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets
import pytest

from course_lib import guard, models
from course_lib.graph import Node, log
from course_lib.widgets import (
    BackwardStepper,
    PathChooser,
    SliderExplorer,
    backward_stepper,
    path_chooser,
    slider_explorer,
)

CHAIN = {"x": (-2.0, 2.0, 1.0), "w1": (-3.0, 3.0, 0.5), "w2": (-3.0, 3.0, -1.2), "w3": (-3.0, 3.0, 0.8)}


def _chain(x: float, w1: float, w2: float, w3: float) -> dict[str, Node]:
    return models.sigmoid_chain(x, w1, w2, w3)


def _net() -> dict[str, Node]:
    return models.network_graph(models.init_params(0), [0.5, -1.0], [1.0, 0.0])


def _fresh_grads(nodes: dict[str, Node], root_key: str = "L") -> dict[str, float]:
    nodes[root_key].backward()
    return {name: n.grad for name, n in nodes.items()}


# --------------------------------------------------------------------------- slider explorer
def test_slider_change_redraws_with_the_new_value():
    ex = slider_explorer(_chain, CHAIN)
    assert isinstance(ex, SliderExplorer) and isinstance(ex, widgets.VBox)
    assert set(ex.controls) == set(CHAIN) and all(isinstance(s, widgets.FloatSlider) for s in ex.controls.values())
    before_text, before_png = ex.state_text, ex.image.value
    assert "w1 = 0.500" in before_text and ex.n_redraws == 1
    ex.controls["w1"].value = 2.0
    assert ex.n_redraws == 2
    assert ex.state_text != before_text and "w1 = 2.000" in ex.state_text
    assert ex.image.value != before_png and ex.image.value[:4] == b"\x89PNG"
    expected = models.sigmoid_chain_loss({"w1": 2.0, "w2": -1.2, "w3": 0.8}, 1.0)
    assert math.isclose(ex.root.value, expected, rel_tol=1e-12)
    assert f"L = {expected:.4g}" in ex.state_text
    # the trace shows the gradients of the new graph
    assert f"{_fresh_grads(_chain(1.0, 2.0, -1.2, 0.8))['w1']:.4g}" in ex.state_text
    assert "<pre" in ex.text.value and "w1 = 2.000" in ex.text.value


def test_slider_explorer_finds_the_root_in_a_dict_and_reports_bad_values():
    ex = slider_explorer(lambda x: models.exp_exp_chain(x), {"x": (-1.0, 1.0, 0.5)})
    assert ex.root.name == "y" and ex.root.grad == 1.0

    def build(x: float) -> Node:
        return log(Node(x, "x")).named("y")

    ex = slider_explorer(build, {"x": (-1.0, 2.0, 1.0)})
    png = ex.image.value
    ex.controls["x"].value = -0.5
    assert "Could not build the graph" in ex.state_text and "x = -0.500" in ex.state_text
    assert ex.image.value == png  # the last good picture stays
    ex.controls["x"].value = 2.0
    assert "Could not build" not in ex.state_text and ex.root.value == pytest.approx(math.log(2.0))


def test_slider_explorer_validates_and_respects_the_guard():
    with pytest.raises(ValueError):
        slider_explorer(_chain, {"x": (0.0, 1.0, 2.0), "w1": (0, 1, 0), "w2": (0, 1, 0), "w3": (0, 1, 0)})
    with guard.hand_written_only("test"), pytest.raises(guard.AutodiffDisabledError):
        slider_explorer(_chain, CHAIN)


# --------------------------------------------------------------------------- backward stepper
def test_stepper_reveals_one_gradient_per_click_matching_backward():
    g = _chain(1.0, 0.5, -1.2, 0.8)
    stepper = backward_stepper(g["L"])
    assert isinstance(stepper, BackwardStepper) and stepper.n_steps == 11
    expected = _fresh_grads(_chain(1.0, 0.5, -1.2, 0.8))
    g["L"].zero_grad()  # the stepper replays its own snapshot, not whatever the nodes hold now
    assert stepper.step == 0 and stepper.revealed == {} and stepper.controls["back"].disabled
    assert stepper.state_text.count("?") == 11
    for k in range(1, 7):
        stepper.controls["next"].click()
        assert stepper.step == k and len(stepper.revealed) == k
        assert stepper.state_text.count(" ?") == 11 - k
    assert list(stepper.revealed) == ["L", "y", "a3", "h2", "a2", "h1"]
    for name, grad in stepper.revealed.items():
        assert grad == expected[name]
    assert stepper.state_text.startswith("Step 6 of 11: h1\n")
    assert f"grad(h1) = grad(a2) × ∂a2/∂h1 = ({expected['a2']:.3g}) × (-1.2) = {expected['h1']:.3g}" in (
        stepper.state_text
    )
    stepper.controls["back"].click()
    assert stepper.step == 5 and "h1" not in stepper.revealed
    stepper.controls["reset"].click()
    assert stepper.step == 0 and stepper.controls["reset"].disabled
    stepper.go(99)
    assert stepper.step == 11 and stepper.controls["next"].disabled
    assert stepper.revealed == {k: v for k, v in expected.items() if k in stepper.revealed}
    assert len(stepper.revealed) == 11 and stepper.image.value[:4] == b"\x89PNG"


def test_stepper_sums_over_children_for_a_shared_node():
    g = _net()
    stepper = backward_stepper(g["L"])
    names = [n.name for n in stepper.order]
    k = names.index("h_13") + 1
    stepper.go(k)
    sentence = stepper.sentences[k]
    assert sentence.startswith("grad(h_13) = grad(a_21) × ∂a_21/∂h_13 + grad(a_22) × ∂a_22/∂h_13 = ")
    assert "feeds 2 nodes" in sentence
    assert sentence.split(" = ")[-1].split()[0] == f"{_fresh_grads(_net())['h_13']:.3g}"
    # every child is revealed before its parents: reverse topological order
    position = {id(n): i for i, n in enumerate(stepper.order)}
    assert all(position[id(p)] > position[id(n)] for n in stepper.order for p in n.parents)


def test_stepper_respects_the_guard():
    g = _chain(1.0, 0.5, -1.2, 0.8)
    with guard.hand_written_only("test"), pytest.raises(guard.AutodiffDisabledError):
        backward_stepper(g["L"])


# --------------------------------------------------------------------------- path chooser
def test_path_chooser_lists_paths_whose_sum_is_the_gradient():
    g = _net()
    chooser = path_chooser(g)
    assert isinstance(chooser, PathChooser)
    dropdown = chooser.controls["weight"]
    assert list(dropdown.options) == [k for k in g if k[0] in "wb" and not k.startswith("yhat")]
    assert len(dropdown.options) == 17 and dropdown.value == "w_111"
    png = chooser.image.value
    dropdown.value = "w_131"
    expected = _fresh_grads(_net())["w_131"]
    assert len(chooser.paths) == 2 and chooser.image.value != png
    assert math.isclose(chooser.path_total, expected, rel_tol=1e-12) and chooser.grad == expected
    for p in chooser.paths:
        assert p.describe() in chooser.state_text
    assert f"sum over the paths          = {expected:.6g}" in chooser.state_text
    assert f"grad(w_131) = {expected:.6g}" in chooser.state_text and "They agree" in chooser.state_text
    dropdown.value = "w_212"  # one path only: the notes' three-term sum repeats a term
    assert len(chooser.paths) == 1 and chooser.state_text.startswith("1 path(s) from w_212 to L")
    assert math.isclose(chooser.path_total, _fresh_grads(_net())["w_212"], rel_tol=1e-12)


def test_path_chooser_checks_its_input_and_the_guard():
    with pytest.raises(KeyError):
        path_chooser(_net(), loss_key="loss")
    with guard.hand_written_only("test"), pytest.raises(guard.AutodiffDisabledError):
        path_chooser(_net())
