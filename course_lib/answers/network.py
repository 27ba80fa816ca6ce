r"""The multi-path network's graded pieces: θ as one vector (4.2), a gradient step (4.3), and its gradient by
backward on one graph per example (4.1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["flatten", "graph_gradients", "sgd_step", "unflatten"]

PARAM_KEYS = ("W1", "b1", "W2", "b2")


def flatten(params: Mapping[str, np.ndarray]) -> np.ndarray:
    """θ as one float64 vector: W1 row by row, then b1, W2 row by row, b2."""
    return np.concatenate([np.asarray(params[k], dtype=np.float64).ravel() for k in PARAM_KEYS])


def unflatten(theta: np.ndarray, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """The inverse of :func:`flatten` for parameters of ``shapes`` (copies, float64; the caller checks θ's size)."""
    theta = np.asarray(theta, dtype=np.float64)
    out, start = {}, 0
    for key, shape in shapes.items():
        n = int(np.prod(shape))
        out[key] = theta[start : start + n].reshape(shape).copy()
        start += n
    return out


def sgd_step(params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray], lr: float) -> dict[str, np.ndarray]:
    r"""$w' = w - \eta\,\partial L/\partial w$ for every parameter (new arrays); shapes checked by the caller."""
    return {k: np.asarray(w, dtype=np.float64) - lr * np.asarray(grads[k], dtype=np.float64)
            for k, w in params.items()}


def graph_gradients(params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray,
                    sizes: Sequence[int]) -> dict[str, np.ndarray]:
    r"""$\partial L/\partial\theta$ of the mean loss: the mean over examples of backward on each example's graph."""
    from course_lib.models import network_graph, param_shapes

    grads = {k: np.zeros(s) for k, s in param_shapes(sizes).items()}
    for x, y in zip(X, Y, strict=True):
        nodes = network_graph(params, x, y)
        nodes["L"].backward()
        for key in PARAM_KEYS:
            layer, g = key[1], grads[key]
            for index in np.ndindex(g.shape):
                name = (f"w_{layer}{index[0] + 1}{index[1] + 1}" if key[0] == "W" else f"b_{layer}{index[0] + 1}")
                g[index] += nodes[name].grad
    return {k: g / X.shape[0] for k, g in grads.items()}
