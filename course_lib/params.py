r"""The notes' names for the network's parameters: ``w_131`` as an entry of the network's arrays.

The lecture notes call the weight of layer ``l`` into unit ``i`` from input ``j`` $w_{lij}$ and the bias of
unit ``i`` in layer ``l`` $b_{li}$ (1-based). In the arrays of :mod:`course_lib.models` that is
``w_lij = W_l[i-1, j-1]`` and ``b_li = b_l[i-1]``::

    parse_name("w_131")            # ("w", 1, 3, 1)
    entry(params, "w_131")         # float(params["W1"][2, 0])
    with_entry(params, "b_21", v)  # a copy of params with b2[0] = v

Notebook 03's answer cells and checks use them (which parameter to nudge, where to find it); none of them
computes a gradient or any other graded answer. Held-out test points are in :mod:`course_lib.checks`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

__all__ = ["entry", "parse_name", "with_entry"]

_NAME = re.compile(r"^(?P<kind>[wb])_(?P<digits>\d+)$")


def parse_name(name: str) -> tuple[str, int, int, int | None]:
    """Split a notes' parameter name: ``"w_131"`` -> ``("w", 1, 3, 1)``, ``"b_21"`` -> ``("b", 2, 1, None)``.

    Returns ``(kind, layer, unit, input)``: kind ``"w"`` or ``"b"``, all numbers 1-based (one digit each,
    as in the notes), ``input`` None for a bias. A name of another form raises ``ValueError`` saying which
    forms are valid.
    """
    match = _NAME.match(name) if isinstance(name, str) else None
    digits = match["digits"] if match else ""
    expected = 3 if match and match["kind"] == "w" else 2
    if not match or len(digits) != expected or "0" in digits:
        raise ValueError(
            f"{name!r} is not a parameter name of the notes: use w_lij (the weight of layer l into unit i from "
            "input j, e.g. 'w_131') or b_li (the bias of unit i in layer l, e.g. 'b_21'), numbers from 1."
        )
    numbers = [int(d) for d in digits]
    return match["kind"], numbers[0], numbers[1], (numbers[2] if match["kind"] == "w" else None)


def _index(params: Mapping[str, np.ndarray], name: str) -> tuple[str, tuple[int, ...]]:
    """The array key and index of ``name`` in ``params`` (a clear error if the network has no such entry)."""
    kind, layer, i, j = parse_name(name)
    key = f"W{layer}" if kind == "w" else f"b{layer}"
    if key not in params:
        raise KeyError(f"{name}: the network has no {key} (its parameters are {', '.join(params)})")
    index = (i - 1, j - 1) if j is not None else (i - 1,)
    shape = np.shape(params[key])
    if len(shape) != len(index) or any(k >= n for k, n in zip(index, shape, strict=True)):
        raise IndexError(f"{name}: {key} has shape {shape}, so it has no entry {tuple(k + 1 for k in index)} (1-based)")
    return key, index


def entry(params: Mapping[str, np.ndarray], name: str) -> float:
    """The value of the parameter called ``name`` (e.g. ``"w_131"``) in ``params``, as a float."""
    key, index = _index(params, name)
    return float(np.asarray(params[key], dtype=np.float64)[index])


def with_entry(params: Mapping[str, np.ndarray], name: str, value: float) -> dict[str, np.ndarray]:
    """A float64 copy of ``params`` in which the parameter called ``name`` is set to ``value``.

    ``params`` itself is left unchanged.
    """
    key, index = _index(params, name)
    new = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    new[key][index] = value
    return new

