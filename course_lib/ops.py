"""Pure math: each elementary function next to its local derivative.

Nothing here knows about graphs. :mod:`course_lib.graph` pairs each forward with its ``*_back`` (the
local derivative) when it builds a node, in the spirit of minitorch's ``operators.py``.

Every function takes and returns plain Python floats (float64). The sigmoid and its log are computed
in forms that stay finite for large ``|z|``.

The ``*_back`` functions are also answers of graded exercises (``d_exp``, ``d_reciprocal``, ``d_sigmoid``):
they are switched off while a graded function runs (:func:`course_lib.guard.hand_written_only`), like
course_lib's other gradients, and their code lives in :mod:`course_lib.answers.local`, which the grading
sandbox leaves out (there they raise :class:`course_lib.guard.AnswerUnavailable`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

from course_lib.guard import ensure_allowed, graded_answers

__all__ = [
    "exp",
    "exp_back",
    "log",
    "log_back",
    "log_sigmoid",
    "reciprocal",
    "reciprocal_back",
    "relu",
    "relu_back",
    "sigmoid",
    "sigmoid_back",
    "softplus",
    "tanh",
    "tanh_back",
]


def _off_while_graded(local: Callable[[float], float]) -> Callable[[float], float]:
    """The named local derivative from :mod:`course_lib.answers.local`, switched off inside ``hand_written_only``.

    ``local``'s body is never run: it only names the derivative and carries its docstring.
    """
    name = local.__name__

    @functools.wraps(local)
    def guarded(x: float) -> float:
        ensure_allowed(f"course_lib.ops.{name}")
        return getattr(graded_answers("local", f"course_lib.ops.{name}"), name)(x)

    del guarded.__wrapped__  # no route around the guard (the answer lives in course_lib.answers)
    return guarded


def exp(x: float) -> float:
    r"""$e^x$. Raises ``OverflowError`` above x ≈ 709.78 (the float64 limit)."""
    return math.exp(x)


@_off_while_graded
def exp_back(x: float) -> float:
    r"""$\frac{d}{dx} e^x = e^x$: the derivative of exp is exp itself, evaluated at the *input*."""


def log(x: float) -> float:
    r"""$\log x$ (natural logarithm), defined for $x > 0$."""
    if x <= 0:
        raise ValueError(f"log({x!r}) is undefined: the logarithm needs a positive input")
    return math.log(x)


@_off_while_graded
def log_back(x: float) -> float:
    r"""$\frac{d}{dx}\log x = \frac{1}{x}$."""


def reciprocal(x: float) -> float:
    r"""$\frac{1}{x}$, for $x \neq 0$."""
    if x == 0:
        raise ZeroDivisionError("1/x is undefined at x = 0")
    return 1.0 / x


@_off_while_graded
def reciprocal_back(x: float) -> float:
    r"""$\frac{d}{dx}\frac{1}{x} = -\frac{1}{x^2}$ (the notes' $dy/dh_2 = -1/h_2^2$)."""


def sigmoid(z: float) -> float:
    r"""$\sigma(z) = \frac{1}{1+e^{-z}}$, computed without overflow for either sign of z."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


@_off_while_graded
def sigmoid_back(z: float) -> float:
    r"""$\sigma'(z) = \sigma(z)\,(1-\sigma(z))$: the derivative is *not* $\sigma(z)$ itself."""


def softplus(z: float) -> float:
    r"""$\log(1+e^{z})$, stable for large $|z|$: $\max(z,0) + \log(1+e^{-|z|})$."""
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def log_sigmoid(z: float) -> float:
    r"""$\log\sigma(z) = -\mathrm{softplus}(-z)$: finite even where $\sigma(z)$ underflows to 0."""
    return -softplus(-z)


def tanh(x: float) -> float:
    r"""$\tanh x$."""
    return math.tanh(x)


@_off_while_graded
def tanh_back(x: float) -> float:
    r"""$\frac{d}{dx}\tanh x = 1 - \tanh^2 x$."""


def relu(x: float) -> float:
    r"""$\max(0, x)$."""
    return x if x > 0 else 0.0


@_off_while_graded
def relu_back(x: float) -> float:
    r"""$1$ for $x > 0$, else $0$ (the kink at 0 is given the subgradient 0)."""
