"""Training the notes' multi-path network with gradients from the computation graph.

The gradient here comes from :meth:`course_lib.graph.Node.backward` on one graph per example (automatic
differentiation), never from a hand-derived formula: the hand-derived, vectorised backward pass is the
students' exercise. Inside :func:`course_lib.guard.hand_written_only` these functions refuse to run; while a
notebook is graded they are not there at all (:mod:`course_lib.answers`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from course_lib import guard
from course_lib.models import loss, sgd_step

__all__ = ["TrainingHistory", "graph_gradients", "train"]


def graph_gradients(params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray]:
    r"""$\partial L/\partial\theta$ of :func:`course_lib.models.loss` by backward on one graph per example.

    $L$ is a mean over examples, so the gradient is the mean of the per-example gradients.
    """
    guard.ensure_allowed("course_lib.training.graph_gradients()")
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
    sizes = (X.shape[1], np.asarray(params["W1"]).shape[0], np.asarray(params["W2"]).shape[0])
    network = guard.graded_answers("network", "course_lib.training.graph_gradients()")
    return network.graph_gradients(params, X, Y, sizes)


@dataclass
class TrainingHistory:
    """What :func:`train` returns: the final parameters and the loss before each step and at the end."""

    params: dict[str, np.ndarray]
    losses: list[float] = field(default_factory=list)


def train(
    params: Mapping[str, np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    *,
    lr: float = 0.5,
    steps: int = 300,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainingHistory:
    r"""Full-batch gradient descent $w' = w - \eta\,\partial L/\partial w$ for ``steps`` steps.

    ``on_step(step, loss)`` is called after every step (for progress output).
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if not lr > 0:
        raise ValueError(f"the learning rate must be positive, got {lr}")
    current = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    history = TrainingHistory(current)
    for step in range(steps):
        history.losses.append(loss(current, X, Y))
        current = sgd_step(current, graph_gradients(current, X, Y), lr)
        if on_step is not None:
            on_step(step + 1, history.losses[-1])
    history.losses.append(loss(current, X, Y))
    history.params = current
    return history
