"""Held-out test points for the self-checks: a network's parameters, an input and its targets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from course_lib.models import init_params

__all__ = ["random_example"]


def random_example(
    rng: np.random.Generator, sizes: Sequence[int] = (2, 3, 2)
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """A held-out test point for a self-check: ``(params, x, y)``.

    Random parameters (:func:`course_lib.models.init_params` with a seed drawn from ``rng``), an input
    ``x`` uniform in [−2, 2] and 0/1 targets ``y``, for a network of ``sizes = (n_in, n_hidden, n_out)``.
    """
    params = init_params(seed=int(rng.integers(100, 10_000)), sizes=sizes)
    return params, rng.uniform(-2, 2, sizes[0]), rng.integers(0, 2, sizes[2]).astype(np.float64)
