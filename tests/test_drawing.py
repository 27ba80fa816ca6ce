"""Tests of course_lib.drawing: layout, highlighting, alt text, path cost and the plots."""

import os
import subprocess
import sys
from pathlib import Path as FsPath

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.lines import Line2D

from course_lib import guard, models
from course_lib.drawing import (
    chain_path_cost,
    describe_graph,
    draw_decision_regions,
    draw_function_and_derivative,
    draw_graph,
    draw_loss_curve,
    draw_path_cost,
    figure_to_png,
    layered_chain,
    layered_layout,
    node_text,
    path_cost_rows,
    path_cost_table,
)
from course_lib.graph import Node, topological_order
from course_lib.paths import enumerate_paths, path_cost
from course_lib.trace import format_trace

REPO = FsPath(__file__).resolve().parents[1]


def _net(seed: int = 0) -> dict[str, Node]:
    return models.network_graph(models.init_params(seed), [0.5, -1.0], [1.0, 0.0])


def _coords(root: Node) -> list[tuple[str, float, float]]:
    layout = layered_layout(root)
    return [(n.name, *layout[n]) for n in topological_order(root) if n in layout]


def _is_png(data: bytes) -> bool:
    return len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


def _box_texts(fig) -> list[str]:
    """The texts of the node boxes (multi-line texts with a value line)."""
    return [t.get_text() for t in fig.axes[0].texts if "\nvalue " in t.get_text()]


# --------------------------------------------------------------------------- layout
def test_layout_is_identical_for_two_builds_of_the_same_model():
    first = _coords(_net()["L"])
    Node(1.0, "unrelated") * 2.0  # nodes created in between shift every serial number
    second = _coords(_net()["L"])
    assert first == second
    assert len(first) == 30


def test_layout_is_identical_in_a_fresh_process_with_another_hash_seed():
    code = (
        "from course_lib import models; from course_lib.drawing import layered_layout;"
        "from course_lib.graph import topological_order;"
        "g = models.network_graph(models.init_params(0), [0.5, -1.0], [1.0, 0.0]);"
        "lay = layered_layout(g['L']);"
        "print([(n.name, *lay[n]) for n in topological_order(g['L']) if n in lay])"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(_coords(_net()["L"]))


@settings(max_examples=25)
@given(st.lists(st.floats(-3, 3, allow_nan=False), min_size=4, max_size=4))
def test_layout_depends_on_structure_not_values(values):
    reference = _coords(models.sigmoid_chain(1.0, 0.5, -1.2, 0.8)["L"])
    assert _coords(models.sigmoid_chain(*values)["L"]) == reference


@pytest.mark.parametrize("leaves", ["near", "left"])
@pytest.mark.parametrize(
    "root",
    [
        _net()["L"],
        models.sigmoid_chain(1.0, 0.5, -1.2, 0.8)["L"],
        models.exp_exp_chain(0.7)["y"],
        layered_chain(3, 2)["L"],
    ],
    ids=["network", "sigmoid_chain", "exp_exp_chain", "layered_chain"],
)
def test_loss_is_rightmost_and_every_edge_goes_left_to_right(root, leaves):
    layout = layered_layout(root, leaves=leaves)
    x_root = layout[root][0]
    assert all(x < x_root for n, (x, _) in layout.items() if n is not root), "the loss is alone at the right"
    for child in layout:
        for parent in child.parents:
            if parent in layout:
                assert layout[parent][0] < layout[child][0], f"{parent.name} -> {child.name} goes backwards"
    if leaves == "left":
        assert {layout[n][0] for n in layout if not n.parents} == {0.0}
    columns: dict[float, list[float]] = {}
    for x, y in layout.values():
        columns.setdefault(x, []).append(y)
    for ys in columns.values():  # nodes in one column never overlap
        ys.sort()
        assert all(b - a >= 1 - 1e-9 for a, b in zip(ys, ys[1:], strict=False))


def test_operation_layer_is_longest_distance_from_a_leaf():
    g = models.sigmoid_chain(1.0, 0.5, -1.2, 0.8)
    layout = layered_layout(g["L"])
    assert [layout[g[k]][0] for k in ("a1", "h1", "a2", "h2", "a3", "y", "L")] == [1, 2, 3, 4, 5, 6, 7]
    assert layout[g["w2"]][0] == 2.0  # a leaf stands one layer before its first use
    assert layout[g["x"]][0] == layout[g["w1"]][0] == 0.0


def test_constants_are_hidden_unless_asked():
    x = Node(2.0, "x")
    y = (x * 3.0).named("y")
    assert [n.name for n in layered_layout(y)] == ["x", "y"]
    assert len(layered_layout(y, include_constants=True)) == 3


# --------------------------------------------------------------------------- the graph drawing
def test_highlighted_path_nodes_carry_a_star_and_thick_dashed_edges():
    g = _net()
    g["L"].backward()
    paths = enumerate_paths(g["w_131"], g["L"])
    fig = draw_graph(g["L"], highlight_paths=paths)
    on_path = {n.name for p in paths for n in p.nodes}
    starred = {t.split("\n")[0].split()[1] for t in _box_texts(fig) if t.startswith("★")}
    assert starred == on_path == {"w_131", "a_13", "h_13", "a_21", "a_22", "yhat_1", "yhat_2", "L"}
    thick = [ln for ln in fig.axes[0].lines if isinstance(ln, Line2D) and ln.get_linewidth() > 2]
    assert len(thick) == 8  # the distinct edges of the two paths
    assert all(ln.get_linestyle() != "-" for ln in thick), "highlighted edges must be dashed, not only coloured"
    thin = [ln for ln in fig.axes[0].lines if ln.get_linewidth() <= 1]
    assert len(thin) == 36 - 8 and all(ln.get_linestyle() == "-" for ln in thin)
    # a node given as highlight_paths means all its paths to the root
    again = draw_graph(g["L"], highlight_paths=g["w_131"])
    assert _box_texts(again) == _box_texts(fig)


def test_gradients_show_a_dash_and_a_note_before_backward():
    g = models.sigmoid_chain(1.0, 0.5, -1.2, 0.8)
    fig = draw_graph(g["L"])
    texts = _box_texts(fig)
    assert texts and all(t.endswith("grad —") for t in texts)
    assert any("run backward()" in t.get_text() for t in fig.axes[0].texts)
    g["L"].backward()
    texts = _box_texts(draw_graph(g["L"]))
    assert not any("grad —" in t for t in texts)
    assert "L = −log y\nvalue 0.573\ngrad 1" in texts
    assert "h1 = σ(a1)\nvalue 0.622\ngrad 0.0913" in texts
    assert all("grad" not in t for t in _box_texts(draw_graph(g["L"], show_grad=False)))


def test_node_text_formats():
    g = models.sigmoid_chain(1.0, 0.5, -1.2, 0.8)
    assert node_text(g["h1"], grad=0.112) == "h1 = σ(a1)\nvalue 0.622\ngrad 0.112"
    assert node_text(g["a2"], grad=None).splitlines() == ["a2 = w2 × h1", "value −0.747", "grad ?"]
    assert node_text(g["w1"], grad="—").splitlines()[0] == "w1 (input)"
    assert node_text(_net()["a_13"], show_grad=False) == "a_13 = Σ w·x + b\nvalue −0.981"


def test_alt_text_contains_the_trace_and_the_path_sum():
    g = _net()
    g["L"].backward()
    paths = enumerate_paths(g["w_131"], g["L"])
    fig = draw_graph(g["L"], highlight_paths=paths)
    alt = fig.alt_text
    assert alt == describe_graph(g["L"], paths)
    assert format_trace(g["L"], digits=6) in alt
    for p in paths:
        assert p.describe() in alt
    assert f"grad(w_131) = {g['w_131'].grad:.6g}" in alt
    assert f"sum of the 2 path products = {sum(p.product for p in paths):.6g}" in alt
    assert f"{g['h_13'].value:.6g}" in alt and f"{g['h_13'].grad:.6g}" in alt


def test_alt_text_before_backward_says_so():
    g = models.sigmoid_chain(1.0, 0.5, -1.2, 0.8)
    alt = describe_graph(g["L"])
    assert "backward() has not run" in alt and format_trace(g["L"], digits=6) in alt


def test_path_sums_in_alt_text_respect_the_guard():
    g = models.sigmoid_chain(1.0, 0.5, -1.2, 0.8)
    with guard.hand_written_only("test"):
        describe_graph(g["L"])  # no paths, no gradient: allowed
        with pytest.raises(guard.AutodiffDisabledError):
            describe_graph(g["L"], g["w1"])


def test_draw_graph_makes_a_png_and_leaves_pyplot_alone():
    before = plt.get_fignums()
    g = models.exp_exp_chain(0.7)
    g["y"].backward()
    fig = draw_graph(g["y"], title="e^(e^(x²))")
    assert _is_png(figure_to_png(fig))
    assert plt.get_fignums() == before


def test_importing_the_drawings_leaves_matplotlib_unimported():
    """matplotlib is imported on the first drawing (start-up speed), not with course_lib.drawing."""
    code = (
        "import sys; import course_lib.drawing as d; before = 'matplotlib' in sys.modules;"
        "from course_lib import models; d.draw_graph(models.exp_exp_chain(0.7)['y']);"
        "print(before, 'matplotlib' in sys.modules)"
    )
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_same_model_gives_the_same_picture_and_text():
    figures = []
    for _ in range(2):
        g = _net()
        g["L"].backward()
        figures.append(draw_graph(g["L"], highlight_paths=g["w_213"]))
    assert figure_to_png(figures[0]) == figure_to_png(figures[1])
    assert figures[0].alt_text == figures[1].alt_text


def test_draw_graph_into_given_axes():
    fig, ax = plt.subplots(figsize=(8, 3))
    try:
        g = models.sigmoid_chain(1.0, 0.5, -1.2, 0.8)
        assert draw_graph(g["L"], ax=ax) is fig
        assert fig.alt_text.startswith("Computation graph of L")
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------- path cost
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("width", [1, 2, 3])
def test_closed_form_path_cost_matches_paths_path_cost(depth, width):
    g = layered_chain(depth, width)
    assert chain_path_cost(depth, width) == path_cost(g["w_111"], g["L"])


def test_path_counts_grow_exponentially_and_backward_linearly():
    rows = path_cost_rows(range(1, 9), 3)
    assert [r["paths"] for r in rows] == [3**k for k in range(8)]
    backward = [r["backward_mults"] for r in rows]
    assert len({b - a for a, b in zip(backward, backward[1:], strict=False)}) == 1  # linear in depth
    ratios = [r["path_mults"] / r["backward_mults"] for r in rows]
    assert ratios == sorted(ratios) and ratios[0] < 1 < ratios[-1]
    g = layered_chain(3, 3)
    assert len(enumerate_paths(g["w_111"], g["L"])) == rows[2]["paths"] == 9
    # depths too large to build use the closed form and agree with its pattern
    big = path_cost_rows([3000], 3)[0]
    assert big["paths"] == 3**2999 and big["backward_mults"] == chain_path_cost(3000, 3).backward_multiplications


def test_path_cost_plot_and_table():
    fig = draw_path_cost(range(1, 9), 3)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 8]
    assert len(lines) == 3
    assert len({ln.get_marker() for ln in lines}) == 3 and len({ln.get_linestyle() for ln in lines}) == 3
    assert len(ax.get_legend().get_texts()) == 3
    table = path_cost_table(range(1, 9), 3)
    assert "2,187" in table and "34,992" in table and table in fig.alt_text
    assert _is_png(figure_to_png(fig))


# --------------------------------------------------------------------------- other plots
def test_function_and_derivative_plot():
    fig = draw_function_and_derivative(models.sigmoid, lambda z: models.sigmoid(z) * (1 - models.sigmoid(z)),
                                       np.linspace(-6, 6, 121), name="σ")
    top, bottom = fig.axes
    assert top.get_lines()[0].get_linestyle() != bottom.get_lines()[0].get_linestyle()
    assert "0.25" in fig.alt_text and "0.5" in fig.alt_text  # σ(0) and σ'(0) in the sample table
    assert _is_png(figure_to_png(fig))


def test_function_plot_accepts_graph_functions():
    fig = draw_function_and_derivative(lambda x: models.exp_exp_chain(x)["y"], lambda x: 0.0, [0.0, 0.5, 1.0])
    assert f"{np.exp(np.exp(0.25)):.4g}" in fig.alt_text


def test_loss_curve():
    losses = [1.2, 0.9, 0.7, 0.65, 0.6]
    fig = draw_loss_curve(losses)
    assert "fell from 1.2 to 0.6" in fig.alt_text and "step 4" in fig.alt_text
    assert _is_png(figure_to_png(fig))
    with pytest.raises(ValueError):
        draw_loss_curve([])


def test_decision_regions_mark_points_by_shape_and_colour():
    X, Y = models.make_dataset(32)
    params = models.init_params(0)
    fig = draw_decision_regions(params, X, Y, models.forward)
    panels = [ax for ax in fig.axes if ax.get_title().startswith("output")]
    assert len(panels) == 2
    for k, ax in enumerate(panels):
        ones, zeros = ax.collections[-2], ax.collections[-1]
        assert len(ones.get_offsets()) == int(Y[:, k].sum()) and len(zeros.get_offsets()) == 32 - int(Y[:, k].sum())
        circle, cross = ones.get_paths()[0].vertices, zeros.get_paths()[0].vertices
        assert circle.shape != cross.shape or not np.allclose(circle, cross), "the two classes need two shapes"
        assert not np.allclose(ones.get_facecolor()[0], zeros.get_facecolor()[0])
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any("circle" in t for t in labels) and any("cross" in t for t in labels)
    accuracy = np.mean((models.forward(params, X)["Yhat"][:, 0] >= 0.5) == (Y[:, 0] >= 0.5))
    assert f"output 1: {accuracy:.0%}" in fig.alt_text
    assert _is_png(figure_to_png(fig))
