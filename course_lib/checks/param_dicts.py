"""Self-check helpers for exercises that return parameters or gradients as dicts of arrays (notebook 04).

Each helper compares what a student's function returned with what the notebook's check expects, and
fails with an :class:`AssertionError` whose message names the function, the parameter, the entry,
the expected and received values and the most likely mistake. None of them computes a graded answer:
the expected values always come from the caller (a numerical gradient, course_lib's
:func:`~course_lib.models.flatten`, the arrays that went in), so a student cannot hand one of these in.

* :func:`loss_by_output` — the batch loss split into one function per output, so the gradient checker can
  name a missing contribution (``parts=`` of :func:`course_lib.gradcheck.check_gradients`);
* :func:`copy_params` — float64 copies of a parameter dict (to tell later whether a function changed it);
* :func:`assert_param_shapes`, :func:`assert_params_close`, :func:`assert_same_params` — a returned dict
  against the expected one, key by key and entry by entry;
* :func:`assert_vector_equal` — a flat vector against the expected one, entry by entry, naming the entry
  by the notes' name (``w_111``, ``b_12``…).

Every comparison is in float64; a NaN or an inf never passes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from course_lib.models import PARAM_KEYS, forward, softplus

__all__ = [
    "assert_param_shapes",
    "assert_params_close",
    "assert_same_params",
    "assert_vector_equal",
    "copy_params",
    "loss_by_output",
]


def loss_by_output(X: np.ndarray, Y: np.ndarray) -> dict[str, Callable[[Mapping[str, np.ndarray]], float]]:
    """The mean cross-entropy of :func:`course_lib.models.loss` on the batch (X, Y), split by output.

    Returns ``{"output 1": f1, "output 2": f2, …}``, each ``f(params) -> float`` the mean over the examples
    of that output's term; the parts add up to the loss. The gradient checker uses them to say which
    output's contribution a wrong gradient misses.
    """
    X, Y = np.atleast_2d(np.asarray(X, dtype=np.float64)), np.atleast_2d(np.asarray(Y, dtype=np.float64))
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} examples (rows) but Y has {Y.shape[0]}: give one row of Y per row of X")

    def part(k: int) -> Callable[[Mapping[str, np.ndarray]], float]:
        def f(params: Mapping[str, np.ndarray]) -> float:
            a2 = forward(params, X)["A2"][:, k]
            return float(np.mean(Y[:, k] * softplus(-a2) + (1 - Y[:, k]) * softplus(a2)))

        return f

    return {f"output {k + 1}": part(k) for k in range(Y.shape[1])}


def copy_params(params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Float64 copies of every array in ``params`` (a later change to ``params`` does not reach them)."""
    return {key: np.array(value, dtype=np.float64, copy=True) for key, value in params.items()}


def _as_float(value: object) -> np.ndarray | None:
    """``value`` as a float64 array, or None if it is not numeric."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def assert_param_shapes(what: str, received: object, like: Mapping[str, np.ndarray],
                        keys: Sequence[str] = PARAM_KEYS) -> None:
    """Fail unless ``received`` is a dict holding, for every key, a numeric array of ``like[key]``'s shape."""
    assert isinstance(received, Mapping), (
        f"{what} should return a dict with the keys {', '.join(map(repr, keys))}, received {type(received).__name__}"
    )
    for key in keys:
        expected = np.shape(like[key])
        assert key in received, f"{what} should return a dict with the key {key!r} (an array of shape {expected})"
        value = _as_float(received[key])
        shape = None if value is None else value.shape
        assert shape == expected, (
            f"{what}[{key!r}] has shape {shape if shape is not None else type(received[key]).__name__}, "
            f"expected {expected}: the shape of a gradient or a parameter is the shape of {key}"
        )


def assert_params_close(what: str, received: Mapping[str, object], expected: Mapping[str, np.ndarray], hint: str,
                        keys: Sequence[str] = PARAM_KEYS, rtol: float = 1e-7, atol: float = 1e-9) -> None:
    """Fail unless every entry of ``received[key]`` is close to ``expected[key]``; name the worst entry.

    Call :func:`assert_param_shapes` first. ``hint`` is the likely mistake, in the notebook's words.
    """
    for key in keys:
        want = np.asarray(expected[key], dtype=np.float64)
        got = _as_float(received[key])
        assert got is not None and got.shape == want.shape, f"{what}[{key!r}] should have shape {want.shape}"
        bad = ~np.isclose(got, want, rtol=rtol, atol=atol) | ~np.isfinite(got)
        if not bad.any():
            continue
        gap = np.where(np.isfinite(got), np.abs(got - want), np.inf)
        worst = int(np.argmax(np.where(bad, gap, -1.0)))
        where = [int(i) for i in np.unravel_index(worst, want.shape)]
        raise AssertionError(
            f"{what}[{key!r}]: entry {where} is {np.ravel(got)[worst]:.8g}, expected {np.ravel(want)[worst]:.8g}. "
            f"Likely mistake: {hint}"
        )


def assert_same_params(what: str, received: object, expected: Mapping[str, np.ndarray], hint: str,
                       keys: Sequence[str] = PARAM_KEYS) -> None:
    """Fail unless ``received`` holds exactly the arrays of ``expected`` (same shapes, same entries)."""
    assert_param_shapes(what, received, expected, keys)
    for key in keys:
        got, want = _as_float(received[key]), np.asarray(expected[key], dtype=np.float64)
        assert got is not None and np.array_equal(got, want), f"{what}[{key!r}] differs from the original: {hint}"


def assert_vector_equal(what: str, received: object, expected: np.ndarray, names: Sequence[str], hint: str) -> None:
    """Fail unless ``received`` is a 1-d float vector equal to ``expected``; name the first wrong entry.

    ``names[i]`` is the notes' name of entry ``i`` (e.g. from :func:`course_lib.models.param_names`); the
    message says ``entry i should be dL/d<name>``.
    """
    expected = np.asarray(expected, dtype=np.float64)
    got = _as_float(received) if isinstance(received, np.ndarray) else None
    assert got is not None and got.shape == expected.shape, (
        f"{what} should return a numpy vector of shape {expected.shape}, got "
        f"{getattr(received, 'shape', type(received).__name__)}"
    )
    wrong = np.flatnonzero(got != expected)
    if wrong.size:
        first = int(wrong[0])
        raise AssertionError(
            f"{what}: entry {first} should be dL/d{names[first]} = {expected[first]:.8g}, received "
            f"{got[first]:.8g}. Likely mistake: {hint}"
        )
