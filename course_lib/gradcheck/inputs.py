"""Validate what a gradient check receives, and flatten parameters into one float64 vector.

``params`` and ``grads`` are dicts from names to floats or float64 arrays, or a single float or array for
a one-parameter exercise. Every problem raises an exception defined here (all subclass
:class:`GradientInputError`, itself a ``ValueError``) whose message names the parameter and says what to
change: a list instead of an array, a sympy expression, ``None``, a transposed or mis-shaped array, a
missing or extra name.
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

__all__ = [
    "GradientInputError",
    "GradientNameError",
    "GradientShapeError",
    "GradientTypeError",
    "Layout",
    "NonFiniteInputError",
    "NotComplexSafeError",
    "as_float_array",
    "format_value",
    "parse_grads",
    "parse_params",
]


class GradientInputError(ValueError):
    """Base class: something given to a gradient check cannot be used as it is."""


class GradientTypeError(GradientInputError, TypeError):
    """A value is not a float or a float64 array (a list, a sympy object, ``None``, a string, ...)."""


class GradientNameError(GradientInputError):
    """``grads`` lacks a parameter name, or has a name that is not a parameter."""


class GradientShapeError(GradientInputError):
    """A gradient does not have its parameter's shape (for example it is transposed)."""


class NonFiniteInputError(GradientInputError):
    """A parameter, or the loss ``f`` at the test point or next to it, is NaN or infinite."""


class NotComplexSafeError(GradientInputError):
    """``method="complex"`` was asked for, but ``f`` does not carry complex numbers through."""


def format_value(x: float) -> str:
    """A float with 8 significant digits, the same on every run (``-0.12345678``, ``2.6e+228``)."""
    return f"{float(x):.8g}"


def _shape_text(shape: tuple[int, ...]) -> str:
    return (
        "()" if not shape else "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
    )


def _is_sympy(value: object) -> bool:
    return type(value).__module__.split(".")[0] == "sympy"


def as_float_array(value: object, what: str, *, shape_hint: tuple[int, ...] | None = None) -> np.ndarray:
    """Return ``value`` as a float64 array, or raise :class:`GradientTypeError` saying what it is instead.

    Accepted: Python and NumPy real numbers (``bool`` excluded), integer and float64 arrays. Refused with a
    specific message: ``None``, lists and tuples, sympy expressions, complex numbers, float32/float16
    arrays (the course computes in float64), object arrays and anything else.
    """
    want = f"a numpy float64 array of shape {_shape_text(shape_hint)}" if shape_hint else "a float"
    if shape_hint == ():
        want = "a float"
    if value is None:
        raise GradientTypeError(
            f"{what} is None, not a number: did the function forget a `return`, or leave an entry unset? "
            f"Expected {want}."
        )
    if isinstance(value, bool | np.bool_):
        raise GradientTypeError(f"{what} is the boolean {value!r}, not a number. Expected {want}.")
    if _is_sympy(value):
        raise _sympy_error(value, what, want)
    if isinstance(value, list | tuple):
        kind = type(value).__name__
        raise GradientTypeError(
            f"{what} is a Python {kind}, not an array: build it with np.array(..., dtype=float) so that "
            "it is "
            f"{want}."
        )
    if isinstance(value, complex | np.complexfloating):
        raise GradientTypeError(f"{what} is the complex number {value!r}; a gradient of a real loss is real.")
    if isinstance(value, np.ndarray):
        return _float64_array(value, what, want)
    if isinstance(value, np.floating):
        if value.dtype != np.float64:
            raise GradientTypeError(
                f"{what} is a {value.dtype} number; the course computes in float64 (use float(...))."
            )
        return np.array(float(value))
    if isinstance(value, numbers.Real):
        return np.array(float(value))
    raise GradientTypeError(
        f"{what} is a {type(value).__module__}.{type(value).__qualname__}, not a number. Expected {want}."
    )


def _sympy_error(value: object, what: str, want: str) -> GradientTypeError:
    """The error for a sympy expression or number where a float was expected."""
    free = getattr(value, "free_symbols", set())
    if free:
        names = ", ".join(sorted(str(s) for s in free))
        return GradientTypeError(
            f"{what} is the sympy expression {value} that still contains the symbol(s) {names}: "
            "substitute numbers (expr.subs(...)) or turn it into a numpy function with sympy.lambdify, "
            f"and return {want}."
        )
    return GradientTypeError(
        f"{what} is a sympy number ({value}), not a float: convert it with float(...) and return {want}."
    )


def _float64_array(value: np.ndarray, what: str, want: str) -> np.ndarray:
    """A float64 copy of ``value`` (integers converted), or the error that says what its dtype is instead."""
    kind = value.dtype.kind
    if kind == "f":
        if value.dtype != np.float64:
            raise GradientTypeError(
                f"{what} has dtype {value.dtype}; the course computes in float64 "
                "(use .astype(np.float64) and keep float64 throughout the computation)."
            )
        return np.array(value, dtype=np.float64, copy=True)
    if kind in "iu":
        return value.astype(np.float64)
    if kind == "b":
        raise GradientTypeError(f"{what} is a boolean array, not numbers. Expected {want}.")
    if kind == "c":
        raise GradientTypeError(f"{what} is a complex array; a gradient of a real loss is real.")
    if kind == "O":
        if any(_is_sympy(v) for v in value.flat):
            raise GradientTypeError(
                f"{what} is an array of sympy objects: evaluate them to floats "
                "(np.array(expr_array, dtype=float) after substituting numbers) before returning."
            )
        raise GradientTypeError(
            f"{what} is an array of Python objects (dtype object): build it with np.array(..., "
            "dtype=float)."
        )
    raise GradientTypeError(f"{what} is an array of dtype {value.dtype}, not float64 numbers.")


def _is_scalar(value: object) -> bool:
    return not isinstance(value, np.ndarray)


@dataclass(frozen=True)
class Layout:
    """How named parameters map to one flat float64 vector ``theta``, and back.

    ``scalar[k]`` is True for a parameter given as a number (it is passed back to ``f`` as a Python float,
    or complex in the complex step); arrays are passed back as arrays of their shape.
    """

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    scalar: tuple[bool, ...]
    is_dict: bool

    @cached_property
    def sizes(self) -> tuple[int, ...]:
        """Number of entries of each parameter."""
        return tuple(int(np.prod(s, dtype=np.int64)) for s in self.shapes)

    @cached_property
    def offsets(self) -> tuple[int, ...]:
        """Start of each parameter in ``theta``."""
        out, total = [], 0
        for s in self.sizes:
            out.append(total)
            total += s
        return tuple(out)

    @cached_property
    def size(self) -> int:
        """P, the number of scalar parameters."""
        return sum(self.sizes)

    def slice(self, k: int) -> slice:
        """The part of ``theta`` that holds parameter ``k``."""
        start = self.offsets[k]
        return slice(start, start + self.sizes[k])

    def locate(self, flat: int) -> tuple[int, tuple[int, ...]]:
        """Parameter number and multi-index of entry ``flat`` of ``theta``."""
        for k, (start, size) in enumerate(zip(self.offsets, self.sizes, strict=True)):
            if start <= flat < start + size:
                index = np.unravel_index(flat - start, self.shapes[k]) if self.shapes[k] else ()
                return k, tuple(int(i) for i in index)
        raise IndexError(flat)

    def label(self, k: int, index: tuple[int, ...] | None) -> str:
        """``W1[2, 0]`` for an array entry, just the name for a number or a 0-d array."""
        if not index:
            return self.names[k]
        return f"{self.names[k]}[{', '.join(str(i) for i in index)}]"

    def build(self, theta: np.ndarray) -> Any:
        """The parameter structure ``f`` expects, holding the values of ``theta`` (arrays are views)."""
        values = []
        for k, shape in enumerate(self.shapes):
            part = theta[self.slice(k)]
            if self.scalar[k]:
                values.append(complex(part[0]) if np.iscomplexobj(part) else float(part[0]))
            else:
                values.append(part.reshape(shape))
        if self.is_dict:
            return dict(zip(self.names, values, strict=True))
        return values[0]

    def build_copy(self, theta: np.ndarray) -> Any:
        """Like :meth:`build` but every array is a fresh copy (safe to hand to code that may modify it)."""
        return self.build(np.array(theta, copy=True))

    def flatten(self, arrays: list[np.ndarray]) -> np.ndarray:
        """Concatenate one array per parameter (already checked for shape) into a flat vector."""
        if not arrays:
            return np.zeros(0)
        return np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays])


def parse_params(params: object, name: str = "x") -> tuple[Layout, np.ndarray]:
    """Check ``params`` and return its :class:`Layout` and the flat float64 vector of its values.

    Raises :class:`GradientTypeError` for non-numbers and :class:`NonFiniteInputError` for NaN or inf.
    """
    if isinstance(params, Mapping):
        if not params:
            raise GradientInputError("params is an empty dict: there is nothing to check.")
        for key in params:
            if not isinstance(key, str):
                raise GradientTypeError(f"params has the key {key!r}; parameter names must be strings.")
        items = list(params.items())
        is_dict = True
    else:
        items = [(name, params)]
        is_dict = False
    names, shapes, scalar, arrays = [], [], [], []
    for key, value in items:
        what = f"params[{key!r}]" if is_dict else "the parameter"
        arr = as_float_array(value, what)
        bad = ~np.isfinite(arr)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            where = f" at index {list(first)}" if first else ""
            raise NonFiniteInputError(
                f"{what} is {arr[first] if first else float(arr)}{where}: a gradient can only be checked at "
                "a point where every parameter is a finite number."
            )
        names.append(key)
        shapes.append(tuple(int(s) for s in arr.shape))
        scalar.append(_is_scalar(value))
        arrays.append(arr)
    layout = Layout(tuple(names), tuple(shapes), tuple(scalar), is_dict)
    return layout, layout.flatten(arrays)


def _name_hint(missing: list[str], extra: list[str]) -> str:
    hints = []
    for name in extra:
        stripped = name
        for prefix in ("grad_", "grad", "d_", "dL_d", "dLd", "d"):
            if name.startswith(prefix) and name[len(prefix) :] in missing:
                stripped = name[len(prefix) :]
                break
        if stripped != name:
            hints.append(
                f"name each gradient after its parameter: grads[{stripped!r}] holds dL/d{stripped}, "
                f"not grads[{name!r}]"
            )
            continue
        same_letters = [m for m in missing if m.lower() == name.lower()]
        if same_letters:
            hints.append(f"{name!r} differs from {same_letters[0]!r} only in upper/lower case")
            continue
        close = difflib.get_close_matches(name, missing, n=1, cutoff=0.6)
        if close:
            hints.append(f"{name!r} looks like a misspelling of {close[0]!r}")
    return ("; ".join(hints) + ".") if hints else ""


def _shape_message(what: str, pname: str, got: tuple[int, ...], want: tuple[int, ...]) -> str:
    base = (
        f"{what} has shape {_shape_text(got)} but {pname} has shape {_shape_text(want)}: "
        f"dL/d{pname} must have exactly the shape of {pname}"
    )
    if len(want) == 2 and got == want[::-1] and want[0] != want[1]:
        return (
            base + " and yours is transposed. Return its transpose (.T), or swap the order of the matrix "
            "product that computes it (entry [i, j] must be dL/d" + pname + "[i, j])."
        )
    size = int(np.prod(want, dtype=np.int64))
    if int(np.prod(got, dtype=np.int64)) == size:
        if len(got) > len(want):
            return (
                base
                + ". It has the right entries with extra axes of length 1: drop keepdims=True or reshape."
            )
        return base + f". It has the right number of entries: reshape it to {_shape_text(want)}."
    if len(want) == 1 and len(got) == 1:
        return (
            base
            + ". For a bias, sum over the examples axis (axis=0) only, so that one number per unit remains."
        )
    if len(got) == len(want) + 1:
        return base + ". It has an extra axis: did you forget to sum (or average) over the examples?"
    return base + "."


def parse_grads(grads: object, layout: Layout, what: str = "grads") -> np.ndarray:
    """Check a student's gradient against the parameters' names and shapes; return it flattened.

    NaN and inf are let through here (the check reports them as failures); everything else that is
    wrong raises a :class:`GradientInputError` subclass with a message for the student.
    """
    if layout.is_dict:
        if not isinstance(grads, Mapping):
            names = ", ".join(layout.names)
            raise GradientTypeError(
                f"{what} is a {type(grads).__name__}, but params is a dict: return a dict with one gradient "
                f"per parameter, with the same names ({names})."
            )
        keys = [str(k) for k in grads]
        missing = [n for n in layout.names if n not in grads]
        extra = [k for k in keys if k not in layout.names]
        if missing or extra:
            parts = []
            if missing:
                parts.append(
                    f"{what} is missing {', '.join(repr(m) for m in missing)} "
                    f"(the gradient of the loss with respect to {', '.join(missing)})"
                )
            if extra:
                parts.append(
                    f"{what} has {', '.join(repr(e) for e in extra)}, which "
                    f"{'is not a parameter' if len(extra) == 1 else 'are not parameters'}"
                )
            hint = _name_hint(missing, extra)
            expected = ", ".join(repr(n) for n in layout.names)
            raise GradientNameError(
                "; ".join(parts)
                + f". Expected exactly the names {expected}."
                + (f" Hint: {hint}" if hint else "")
            )
        values = [grads[n] for n in layout.names]
        # grads['W2'], but "entry 'W2' of the gradient returned by your function" (not "your function['W2']")
        whats = [f"{what}[{n!r}]" if what.isidentifier() else f"entry {n!r} of {what}" for n in layout.names]
    else:
        if isinstance(grads, Mapping):
            raise GradientTypeError(
                f"{what} is a dict, but params is a single value: return a single float or array too."
            )
        values = [grads]
        whats = [what]
    arrays = []
    for k, (value, w) in enumerate(zip(values, whats, strict=True)):
        arr = as_float_array(value, w, shape_hint=layout.shapes[k])
        if arr.shape != layout.shapes[k]:
            raise GradientShapeError(_shape_message(w, layout.names[k], arr.shape, layout.shapes[k]))
        arrays.append(arr)
    return layout.flatten(arrays)
