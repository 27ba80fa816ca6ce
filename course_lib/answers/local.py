r"""The local derivative of every operation of :mod:`course_lib.graph` (Exercises 1.2 and 2.2 among them).

Each function takes the inputs of one step and returns the partial derivative of its output with respect
to each input, evaluated at those inputs (a float for one input, a tuple for several).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "aggregate_locals",
    "exp_back",
    "log_back",
    "log_of_sigmoid_back",
    "nll_back",
    "power_back",
    "product_back",
    "quotient_back",
    "reciprocal_back",
    "relu_back",
    "sigmoid_back",
    "tanh_back",
]


def exp_back(x: float) -> float:
    r"""$\frac{d}{dx} e^x = e^x$."""
    return math.exp(x)


def log_back(x: float) -> float:
    r"""$\frac{d}{dx}\log x = 1/x$."""
    return 1.0 / x


def reciprocal_back(x: float) -> float:
    r"""$\frac{d}{dx}\frac{1}{x} = -1/x^2$."""
    return -1.0 / (x * x)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


def sigmoid_back(z: float) -> float:
    r"""$\sigma'(z) = \sigma(z)(1-\sigma(z))$."""
    s = _sigmoid(z)
    return s * (1.0 - s)


def tanh_back(x: float) -> float:
    r"""$1 - \tanh^2 x$."""
    t = math.tanh(x)
    return 1.0 - t * t


def relu_back(x: float) -> float:
    """1 for x > 0, else 0."""
    return 1.0 if x > 0 else 0.0


def power_back(x: float, k: float) -> float:
    r"""$\frac{d}{dx} x^k = k x^{k-1}$."""
    return k * x ** (k - 1)


def product_back(a: float, b: float) -> tuple[float, float]:
    r"""$\partial(ab)/\partial a = b$, $\partial(ab)/\partial b = a$."""
    return (b, a)


def quotient_back(a: float, b: float) -> tuple[float, float]:
    r"""$\partial(a/b)/\partial a = 1/b$, $\partial(a/b)/\partial b = -a/b^2$."""
    return (1.0 / b, -a / (b * b))


def log_of_sigmoid_back(z: float) -> float:
    r"""$\frac{d}{dy}\log y$ at $y = \sigma(z)$: $1/y = 1 + e^{-z}$ (raises OverflowError where σ is saturated)."""
    return 1.0 + math.exp(-z)


def aggregate_locals(weights: Sequence[float], inputs: Sequence[float], input_is_node: Sequence[bool],
                     bias: bool) -> list[float]:
    r"""$a = \sum_j w_j x_j (+ b)$: $\partial a/\partial w_j = x_j$; $\partial a/\partial x_j = w_j$ for each input
    that is a node; $\partial a/\partial b = 1$."""
    local = list(inputs)
    local += [w for w, is_node in zip(weights, input_is_node, strict=True) if is_node]
    return [*local, 1.0] if bias else local


def nll_back(target: float, inv_y: float, inv_1my: float) -> float:
    r"""$\partial L/\partial\hat y = -t/\hat y + (1-t)/(1-\hat y)$, from $1/\hat y$ and $1/(1-\hat y)$."""
    return -target * inv_y + (1.0 - target) * inv_1my
