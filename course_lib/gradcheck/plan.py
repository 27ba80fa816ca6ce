"""Planning a gradient check: which entries and directions, at which test points.

* :func:`make_plan`: every entry (``full``), a sample of entries per parameter (``sampled``) or one random
  direction per parameter (``directions``), with the random direction of the pre-check;
* :func:`perturbed_points`: the extra test points θ + p·s_T·z around ``params``;
* :func:`validate_options`: the options of :func:`~course_lib.gradcheck.check_gradients`, checked up front.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from course_lib.gradcheck.inputs import GradientInputError, GradientTypeError, Layout, NonFiniteInputError
from course_lib.gradcheck.reference import LossFunction

__all__ = ["MODES", "Plan", "make_plan", "perturbed_points", "validate_options"]

MODES = ("auto", "full", "sampled", "directions")


@dataclass
class Plan:
    """What is checked at every test point."""

    mode: str
    entries: np.ndarray  # flat indices checked at every point (full / sampled)
    sampled: dict[int, np.ndarray]  # per tensor: entries to locate an error found by a direction
    directions: dict[int, np.ndarray]  # per tensor: a direction w (length P) supported on that tensor


def make_plan(
    layout: Layout, theta: np.ndarray, mode: str, sample: int, max_full: int, rng: np.random.Generator
) -> Plan:
    """Which entries to check at every point, and one random direction per tensor unless ``full``."""
    if mode == "auto":
        mode = "full" if layout.size <= max_full else "sampled"
    sampled: dict[int, np.ndarray] = {}
    directions: dict[int, np.ndarray] = {}
    for k in range(len(layout.names)):
        part = layout.slice(k)
        size = layout.sizes[k]
        chosen = np.arange(size) if size <= sample else np.sort(rng.choice(size, sample, replace=False))
        sampled[k] = chosen + part.start
        if mode != "full":
            w = np.zeros(layout.size)
            w[part] = rng.standard_normal(size) * np.maximum(1.0, np.abs(theta[part]))
            directions[k] = w
    if mode == "full":
        entries = np.arange(layout.size)
    elif mode == "sampled":
        entries = np.concatenate([sampled[k] for k in range(len(layout.names))])
    else:
        entries = np.zeros(0, dtype=int)
    return Plan(mode, entries, sampled, directions)


def perturbed_points(
    loss: LossFunction,
    layout: Layout,
    theta: np.ndarray,
    count: int,
    perturbation: float,
    rng: np.random.Generator,
    notes: list[str],
) -> list[tuple[np.ndarray, float]]:
    """``count`` points θ + p·s_T·z near ``theta`` at which the loss is finite, with f there."""
    overall = float(np.sqrt(np.mean(theta**2))) if theta.size else 0.0
    scales = np.empty_like(theta)
    for k in range(len(layout.names)):
        part = layout.slice(k)
        rms = float(np.sqrt(np.mean(theta[part] ** 2)))
        scales[part] = rms if rms > 0 else (overall if overall > 0 else 1.0)
    out = []
    for j in range(count):
        z = rng.standard_normal(theta.size)
        for halving in range(6):
            candidate = theta + perturbation / 2**halving * scales * z
            try:
                out.append((candidate, loss.real_at_start(candidate)))
                break
            except NonFiniteInputError:
                continue
        else:
            notes.append(f"Extra test point {j + 1} was skipped: the loss is not finite near params there.")
    return out


def validate_options(
    method: str,
    mode: str,
    sample: int,
    max_full: int,
    n_points: int,
    perturbation: float,
    seed: int,
    n_examples: int | None,
    strict: bool,
    name: str,
    exercise: str,
) -> None:
    """Raise GradientInputError / GradientTypeError for an unusable option."""
    if mode not in MODES:
        raise GradientInputError(f"mode must be one of {', '.join(repr(m) for m in MODES)}, got {mode!r}")
    for label, value, low in (
        ("sample", sample, 1),
        ("max_full", max_full, 1),
        ("n_points", n_points, 1),
        ("seed", seed, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise GradientInputError(f"{label} must be an integer >= {low}, got {value!r}")
    if n_examples is not None and (
        isinstance(n_examples, bool) or not isinstance(n_examples, int | np.integer) or n_examples < 1
    ):
        raise GradientInputError(f"n_examples must be None or an integer >= 1, got {n_examples!r}")
    if not (isinstance(perturbation, int | float) and math.isfinite(perturbation) and perturbation > 0):
        raise GradientInputError(f"perturbation must be a finite number > 0, got {perturbation!r}")
    if not isinstance(strict, bool):
        raise GradientTypeError(f"strict must be True or False, got {strict!r}")
    if not isinstance(name, str) or not isinstance(exercise, str):
        raise GradientTypeError("name and exercise must be strings")
    if not isinstance(method, str):
        raise GradientTypeError(f"method must be a string, got {method!r}")
