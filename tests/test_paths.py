"""Path enumeration: the sum over paths equals backward, and the cost of both ways is countable."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from course_lib import models
from course_lib.graph import Node, aggregate
from course_lib.paths import NotConnectedError, count_paths, enumerate_paths, path_cost, path_sum


@given(st.integers(0, 10_000), st.floats(-2, 2), st.floats(-2, 2), st.sampled_from([0.0, 1.0]))
def test_path_sums_equal_backward_for_every_parameter(seed, x1, x2, t):
    nodes = models.network_graph(models.init_params(seed), [x1, x2], [t, 1.0 - t])
    nodes["L"].backward()
    for name in ("w_131", "w_212", "b_11", "b_22", "x_1"):
        assert math.isclose(path_sum(nodes[name], nodes["L"]), nodes[name].grad, rel_tol=1e-10, abs_tol=1e-15)


def test_w131_reaches_the_loss_through_both_outputs():
    nodes = models.network_graph(models.init_params(0), [0.4, -0.7], [1.0, 0.0])
    paths = enumerate_paths(nodes["w_131"], nodes["L"])
    assert [[n.name for n in p.nodes] for p in paths] == [
        ["w_131", "a_13", "h_13", "a_21", "yhat_1", "L"],
        ["w_131", "a_13", "h_13", "a_22", "yhat_2", "L"],
    ]
    assert paths[0].factors[0] == 0.4  # ∂a_13/∂w_131 = x_1
    assert "w_131 → a_13" in paths[0].describe()
    # a second-layer weight has exactly one path
    assert len(enumerate_paths(nodes["w_212"], nodes["L"])) == 1


def test_repeated_edges_are_distinct_paths():
    x = Node(2.0, "x")
    y = (x * x).named("y")
    assert [p.factors for p in enumerate_paths(x, y)] == [(2.0,), (2.0,)]
    assert path_sum(x, y) == 4.0


def layered(depth: int, width: int) -> tuple[Node, Node]:
    """A fully connected tanh network: `depth` layers of `width` units; returns (first weight, loss)."""
    rng = np.random.default_rng(0)
    first = None
    inputs = [Node(v) for v in rng.normal(size=width)]
    for _ in range(depth):
        outs = []
        for _ in range(width):
            ws = [Node(v) for v in rng.normal(size=width) * 0.5]
            first = first or ws[0]
            outs.append(aggregate(ws, inputs).tanh())
        inputs = outs
    return first, sum(inputs[1:], inputs[0])


@pytest.mark.parametrize("depth,width", [(1, 2), (2, 3), (3, 3), (4, 2)])
def test_path_counts_and_costs(depth, width):
    w, loss = layered(depth, width)
    cost = path_cost(w, loss)
    assert cost.n_paths == width ** (depth - 1) == count_paths(w, loss)
    paths = enumerate_paths(w, loss)
    assert len(paths) == cost.n_paths
    assert cost.path_multiplications == sum(len(p.factors) - 1 for p in paths)
    assert cost.path_additions == cost.n_paths - 1
    loss.backward()
    assert math.isclose(path_sum(w, loss), w.grad, rel_tol=1e-9, abs_tol=1e-14)


def test_backward_wins_as_depth_grows():
    costs = [path_cost(*layered(d, 4)) for d in (2, 4, 6, 8)]
    assert costs[-1].n_paths == 4**7  # counted, never enumerated
    ratios = [c.path_multiplications / c.backward_multiplications for c in costs]
    assert ratios == sorted(ratios) and ratios[-1] > 100
    with pytest.raises(ValueError, match="limit"):
        enumerate_paths(*layered(8, 4), limit=1000)


def test_a_source_that_does_not_reach_the_target():
    nodes = models.network_graph(models.init_params(0), [1.0, 1.0], [1.0, 1.0])
    stray = Node(1.0, "stray")
    with pytest.raises(NotConnectedError, match="stray does not reach L"):
        enumerate_paths(stray, nodes["L"])
    with pytest.raises(NotConnectedError, match="does not reach"):
        path_cost(nodes["L"], nodes["w_131"])
