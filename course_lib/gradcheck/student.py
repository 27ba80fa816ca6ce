"""The student's gradient: fixed values, or a function called (guarded) at each test point.

A gradient function is called on a fresh copy of the parameters each time; one that writes into its input
or returns different values for two identical calls is caught here, with a sentence that says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_lib import guard
from course_lib.gradcheck.inputs import Layout, format_value, parse_grads

__all__ = ["Student", "nondeterminism"]


class Student:
    """The student's gradient: fixed values, or a function called inside ``hand_written_only``."""

    def __init__(self, grads: Any, layout: Layout, exercise: str) -> None:
        self.grads, self.layout, self.exercise = grads, layout, exercise
        # a sympy Symbol is callable (it builds an undefined function), but it is a value here
        self.is_function = callable(grads) and type(grads).__module__.split(".")[0] != "sympy"
        self.calls = 0
        fn_name = getattr(grads, "__name__", "") if self.is_function else ""
        self.what = (
            f"the value returned by {fn_name}(params)"
            if fn_name and fn_name != "<lambda>"
            else "the gradient returned by your function"
            if self.is_function
            else "grads"
        )
        self.fixed = None if self.is_function else parse_grads(grads, layout, "grads")

    def at(self, theta: np.ndarray) -> tuple[np.ndarray, list[tuple[int, str]]]:
        """(flat gradient, [(parameter number, sentence)] for parameters the function wrote into)."""
        if self.fixed is not None:
            return self.fixed, []
        params = self.layout.build_copy(theta)
        self.calls += 1
        with guard.hand_written_only(self.exercise):
            out = self.grads(params)
        flat = parse_grads(out, self.layout, self.what)
        mutated = []
        values = list(params.values()) if self.layout.is_dict else [params]
        for k, value in enumerate(values):
            after = np.asarray(value, dtype=np.float64).reshape(-1)
            before = theta[self.layout.slice(k)]
            if after.shape != before.shape or not np.array_equal(after, before, equal_nan=True):
                name = self.layout.names[k]
                if after.shape != before.shape:
                    detail = f"its shape became {np.shape(value)}"
                else:
                    j = int(np.flatnonzero(after != before)[0])
                    label = self.layout.label(
                        k, tuple(int(i) for i in np.unravel_index(j, self.layout.shapes[k]))
                    )
                    detail = f"{label} was {format_value(before[j])} and became {format_value(after[j])}"
                mutated.append(
                    (
                        k,
                        (
                            f"{name}: your gradient function changed params[{name!r}] in place "
                            f"({detail}): a backward "
                            "pass must only read the parameters; write results into new arrays (W = W "
                            "- ... creates "
                            "a new array, W -= ... overwrites the caller's)."
                        ),
                    )
                )
        return flat, mutated


def nondeterminism(layout: Layout, first: np.ndarray, second: np.ndarray) -> list[tuple[int, str]]:
    """[(parameter, sentence)] for parameters whose gradient differs between two identical calls."""
    same = np.isclose(first, second, rtol=1e-12, atol=0.0) | (np.isnan(first) & np.isnan(second))
    out = []
    for k in range(len(layout.names)):
        part = layout.slice(k)
        if np.all(same[part]):
            continue
        j = int(np.flatnonzero(~same[part])[0])
        label = layout.label(k, tuple(int(i) for i in np.unravel_index(j, layout.shapes[k])))
        a1, a2 = first[part], second[part]
        extra = ""
        nz = a1 != 0
        if nz.any():
            ratio = a2[nz] / a1[nz]
            if np.allclose(ratio, ratio[0], rtol=1e-9) and abs(ratio[0] - round(ratio[0])) < 1e-9:
                extra = (
                    f"; the second call returned {round(ratio[0]):d} × the first, so the gradient "
                    "accumulates across calls: start each backward pass from zero"
                )
        out.append(
            (
                k,
                (
                    f"{layout.names[k]}: your gradient changed between two identical calls at the same "
                    f"point ({label}: "
                    f"{format_value(a1[j])}, then {format_value(a2[j])}){extra}. Does your backward "
                    "pass accumulate "
                    "into a global (+= without resetting) or modify its inputs?"
                ),
            )
        )
    return out
