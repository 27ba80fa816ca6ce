"""The training demo: the notes' multi-path network trained, with a gradient table at the end."""

from __future__ import annotations

import time

import numpy as np

from autograder.errors import CourseError
from course_lib import models
from course_lib.gradcheck import numerical_gradient
from course_lib.training import graph_gradients, train

__all__ = ["gradient_table", "run_training_demo"]


def gradient_table(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> str:
    """A text table: each parameter's name (as in the notes), value, backprop and numerical gradient."""
    backprop = models.flatten(graph_gradients(params, X, Y))
    numeric = models.flatten(numerical_gradient(lambda p: models.loss(p, X, Y), params))
    theta = models.flatten(params)
    lines = [f"{'param':<7} {'value':>10} {'backprop dL/dθ':>16} {'numeric dL/dθ':>16} {'|difference|':>13}"]
    for name, v, b, n in zip(models.param_names(), theta, backprop, numeric, strict=True):
        lines.append(f"{name:<7} {v:>10.4f} {b:>16.8f} {n:>16.8f} {abs(b - n):>13.2e}")
    return "\n".join(lines)


def run_training_demo(steps: int = 300, lr: float = 2.0, seed: int = 0) -> int:
    """Train on the generated data set, printing progress, the loss curve's milestones and the table."""
    if steps < 1:
        raise CourseError(f"--steps must be at least 1, got {steps}")
    X, Y = models.make_dataset(64, seed=seed)
    params = models.init_params(seed)
    print(f"Training the multi-path network {models.LAYER_SIZES} on {len(X)} generated examples, "
          f"{steps} steps of w' = w - η·dL/dw with η = {lr}")
    start = time.perf_counter()
    every = max(1, steps // 10)

    def progress(step: int, loss: float) -> None:
        if step % every == 0 or step == steps:
            print(f"  step {step:>5}/{steps}  loss {loss:.5f}", flush=True)

    history = train(params, X, Y, lr=lr, steps=steps, on_step=progress)
    elapsed = time.perf_counter() - start
    final = history.params
    accuracy = ((models.forward(final, X)["Yhat"] > 0.5) == (Y > 0.5)).mean()
    print(f"loss {history.losses[0]:.5f} -> {history.losses[-1]:.5f} in {elapsed:.1f} s; "
          f"training accuracy {accuracy:.1%} (both outputs)")
    print("\nGradient of the loss at the trained parameters: backprop (computation graph) vs finite differences")
    print(gradient_table(final, X, Y))
    return 0
