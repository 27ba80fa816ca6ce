"""The notes' models: the network's forward pass, θ as matrices and as one vector, training, the guard."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from course_lib import guard, models
from course_lib.guard import AutodiffDisabledError, hand_written_only
from course_lib.paths import path_sum
from course_lib.training import graph_gradients, train

N_THETA = 3 * 2 + 3 + 2 * 3 + 2


@given(arrays(np.float64, N_THETA, elements=st.floats(-1e6, 1e6)))
def test_flat_theta_round_trip(theta):
    params = models.unflatten(theta)
    assert {k: v.shape for k, v in params.items()} == models.param_shapes()
    assert np.array_equal(models.flatten(params), theta)
    again = models.unflatten(models.flatten(params))
    assert all(np.array_equal(again[k], params[k]) for k in params)


def test_names_follow_the_notes():
    names = models.param_names()
    assert len(names) == N_THETA == len(set(names))
    params = models.init_params(5)
    theta = models.flatten(params)
    assert theta[names.index("w_131")] == params["W1"][2, 0]
    assert theta[names.index("w_212")] == params["W2"][0, 1]
    assert theta[names.index("b_22")] == params["b2"][1]


def test_unflatten_copies_and_rejects_wrong_lengths():
    theta = np.arange(N_THETA, dtype=float)
    params = models.unflatten(theta)
    params["W1"][0, 0] = 99.0
    assert theta[0] == 0.0
    with pytest.raises(ValueError, match="vector of 17 numbers"):
        models.unflatten(np.zeros(16))
    with pytest.raises(KeyError, match="missing b2"):
        models.flatten({k: v for k, v in params.items() if k != "b2"})


binary = st.sampled_from([0.0, 1.0])


@given(st.integers(0, 1000), st.floats(-3, 3), st.floats(-3, 3), binary, binary)
def test_graph_loss_equals_the_batch_loss(seed, x1, x2, t1, t2):
    params = models.init_params(seed)
    nodes = models.network_graph(params, [x1, x2], [t1, t2])
    assert math.isclose(nodes["L"].value, models.loss(params, [[x1, x2]], [[t1, t2]]), rel_tol=1e-12, abs_tol=1e-15)
    fwd = models.forward(params, np.array([[x1, x2]]))
    assert math.isclose(nodes["h_13"].value, fwd["H1"][0, 2], rel_tol=1e-14)
    assert math.isclose(nodes["yhat_2"].value, fwd["Yhat"][0, 1], rel_tol=1e-14)


def test_loss_is_finite_when_saturated():
    params = models.init_params(0, scale=200.0)
    X, Y = models.make_dataset(32)
    value = models.loss(params, X, Y)
    assert math.isfinite(value) and value > 10


def test_forward_shapes_and_bad_input():
    params = models.init_params(0)
    X, Y = models.make_dataset(10, seed=1)
    out = models.forward(params, X)
    assert out["A1"].shape == (10, 3) and out["Yhat"].shape == (10, 2)
    with pytest.raises(ValueError, match="3 features per example but W1 expects 2"):
        models.forward(params, np.ones((4, 3)))
    with pytest.raises(ValueError, match="Y has shape"):
        models.loss(params, X, Y[:, :1])
    with pytest.raises(ValueError, match="at least 1"):
        models.make_dataset(0)


def test_dataset_is_deterministic_and_has_both_classes():
    X1, Y1 = models.make_dataset(64, seed=0)
    X2, Y2 = models.make_dataset(64, seed=0)
    assert np.array_equal(X1, X2) and np.array_equal(Y1, Y2) and X1.dtype == np.float64
    assert 0 < Y1[:, 0].mean() < 1 and 0 < Y1[:, 1].mean() < 1


def test_sgd_step_is_the_update_rule():
    params = models.init_params(0)
    grads = {k: np.full_like(v, 0.5) for k, v in params.items()}
    new = models.sgd_step(params, grads, lr=0.1)
    assert all(np.allclose(new[k], params[k] - 0.05) for k in params)
    with pytest.raises(KeyError, match="missing"):
        models.sgd_step(params, {"W1": grads["W1"]}, 0.1)
    with pytest.raises(ValueError, match="shape"):
        models.sgd_step(params, {**grads, "W1": grads["W1"].T}, 0.1)


def central_difference(f, params, h=1e-6):
    out = {}
    for k, v in params.items():
        g = np.zeros_like(v)
        for i in np.ndindex(v.shape):
            plus = {**params, k: v.copy()}
            minus = {**params, k: v.copy()}
            plus[k][i] += h
            minus[k][i] -= h
            g[i] = (f(plus) - f(minus)) / (2 * h)
        out[k] = g
    return out


def test_graph_gradients_match_finite_differences():
    params = models.init_params(4)
    X, Y = models.make_dataset(8, seed=4)
    auto = graph_gradients(params, X, Y)
    numeric = central_difference(lambda p: models.loss(p, X, Y), params)
    for k in params:
        np.testing.assert_allclose(auto[k], numeric[k], rtol=1e-6, atol=1e-9)


def test_training_reduces_the_loss():
    X, Y = models.make_dataset(32, seed=2)
    seen = []
    history = train(models.init_params(2), X, Y, lr=2.0, steps=60, on_step=lambda s, v: seen.append(s))
    assert seen == list(range(1, 61)) and len(history.losses) == 61
    assert history.losses[-1] < 0.7 * history.losses[0]
    with pytest.raises(ValueError, match="learning rate"):
        train(models.init_params(0), X, Y, lr=0.0)


def test_the_guard_switches_automatic_gradients_off():
    nodes = models.sigmoid_chain(0.5, 1.0, 1.0, 1.0)
    X, Y = models.make_dataset(4)
    with hand_written_only("backward_sigmoid_chain"):
        assert guard.is_disabled()
        with pytest.raises(AutodiffDisabledError, match="backward_sigmoid_chain.*hand-written"):
            nodes["L"].backward()
        with pytest.raises(AutodiffDisabledError, match="path_sum"):
            path_sum(nodes["w1"], nodes["L"])
        with pytest.raises(AutodiffDisabledError, match="graph_gradients"):
            graph_gradients(models.init_params(0), X, Y)
    assert not guard.is_disabled()
    nodes["L"].backward()  # allowed again outside
    assert nodes["w1"].grad != 0.0


def test_the_guard_is_released_after_an_exception():
    with pytest.raises(ZeroDivisionError), hand_written_only("ex"):
        1 / 0  # noqa: B018
    assert not guard.is_disabled()


def test_the_guard_switches_the_graph_off_too():
    with hand_written_only("local_derivatives"), pytest.raises(AutodiffDisabledError, match="computation graph"):
        models.sigmoid_chain(0.5, 1.0, 1.0, 1.0)
    assert models.sigmoid_chain(0.5, 1.0, 1.0, 1.0)["L"].value > 0
