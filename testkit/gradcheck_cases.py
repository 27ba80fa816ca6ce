"""Hand-written gradients of the syllabus models, right and wrong, for the gradient checker's tests and
benchmark.

This lives with the tests, never in course_lib: students must not be handed the graded answers.

* :func:`backward` is a correct backward pass of :mod:`course_lib.models`' network, written the way a
  student writes it (``dA2 = (Yhat - Y) / m``, ``σ'(a) = h(1 - h)``), for any layer sizes, with an optional
  L2 term ``lam/2 (|W1|² + |W2|²)``;
* :data:`NET_BUGS` is the catalogue of typical mistakes: each a backward pass with one bug;
* :data:`SCALAR_CASES` are the notes' one-variable functions with their derivatives and bugs;
* :func:`regime` draws test points: ``ordinary`` (weights ~ N(0, 1)), ``saturated`` (N(0, 10²)),
  ``hidden_off`` (hidden biases -40: every hidden unit switched off), ``square`` (a 3-3-3 net), and
  ``hidden_low`` (hidden biases -10: hidden units almost off, for bugs at hard test points).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from course_lib import models

Params = dict[str, np.ndarray]
Backward = Callable[[Params, np.ndarray, np.ndarray], Params]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The course's stable sigmoid."""
    return np.asarray(models.sigmoid(z), dtype=np.float64)


def net_loss(params: Params, X: np.ndarray, Y: np.ndarray, lam: float = 0.0) -> float:
    """models.loss plus the optional L2 term lam/2 (|W1|² + |W2|²)."""
    reg = 0.5 * lam * (float(np.sum(params["W1"] ** 2)) + float(np.sum(params["W2"] ** 2))) if lam else 0.0
    return models.loss(params, X, Y) + reg


def net_loss_complex(params: Params, X: np.ndarray, Y: np.ndarray, lam: float = 0.0) -> complex:
    """The same loss written complex-safe (no abs, max or float casts), valid for moderate logits."""
    W1, b1, W2, b2 = (params[k] for k in ("W1", "b1", "W2", "b2"))
    H1 = 1.0 / (1.0 + np.exp(-(X @ W1.T + b1)))
    A2 = H1 @ W2.T + b2
    per_entry = Y * np.log1p(np.exp(-A2)) + (1.0 - Y) * np.log1p(np.exp(A2))
    reg = 0.5 * lam * (np.sum(W1 * W1) + np.sum(W2 * W2))
    return per_entry.sum() / X.shape[0] + reg


def _forward(params: Params, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    A1 = X @ params["W1"].T + params["b1"]
    H1 = sigmoid(A1)
    Yhat = sigmoid(H1 @ params["W2"].T + params["b2"])
    return A1, H1, Yhat


def _grads(
    params: Params, X: np.ndarray, dA2: np.ndarray, H1: np.ndarray, dA1_factor: np.ndarray, lam: float
) -> Params:
    dW2 = dA2.T @ H1 + lam * params["W2"]
    dH1 = dA2 @ params["W2"]
    dA1 = dH1 * dA1_factor
    return {"W1": dA1.T @ X + lam * params["W1"], "b1": dA1.sum(axis=0), "W2": dW2, "b2": dA2.sum(axis=0)}


def backward(params: Params, X: np.ndarray, Y: np.ndarray, lam: float = 0.0) -> Params:
    """The correct gradient of :func:`net_loss`, as a student writes it."""
    m = X.shape[0]
    _, H1, Yhat = _forward(params, X)
    return _grads(params, X, (Yhat - Y) / m, H1, H1 * (1 - H1), lam)


def _bug(change: Callable[[Params, np.ndarray, np.ndarray, float], Params]) -> Callable[..., Params]:
    def wrapped(params: Params, X: np.ndarray, Y: np.ndarray, lam: float = 0.0) -> Params:
        return change(params, X, Y, lam)

    return wrapped


def _sign_dz2(p: Params, X: np.ndarray, Y: np.ndarray, lam: float) -> Params:
    _, H1, Yhat = _forward(p, X)
    return _grads(p, X, (Y - Yhat) / X.shape[0], H1, H1 * (1 - H1), lam)


def _sigma_for_dsigma(p: Params, X: np.ndarray, Y: np.ndarray, lam: float) -> Params:
    _, H1, Yhat = _forward(p, X)
    return _grads(p, X, (Yhat - Y) / X.shape[0], H1, H1, lam)


def _preactivation_dsigma(p: Params, X: np.ndarray, Y: np.ndarray, lam: float) -> Params:
    A1, H1, Yhat = _forward(p, X)
    return _grads(p, X, (Yhat - Y) / X.shape[0], H1, A1 * (1 - A1), lam)


def _no_mean(p: Params, X: np.ndarray, Y: np.ndarray, lam: float) -> Params:
    _, H1, Yhat = _forward(p, X)
    g = _grads(p, X, Yhat - Y, H1, H1 * (1 - H1), 0.0)
    return {k: g[k] + (lam * p[k] if k.startswith("W") else 0) for k in g}


def _mean_twice(p: Params, X: np.ndarray, Y: np.ndarray, lam: float) -> Params:
    _, H1, Yhat = _forward(p, X)
    g = _grads(p, X, (Yhat - Y) / X.shape[0] ** 2, H1, H1 * (1 - H1), 0.0)
    return {k: g[k] + (lam * p[k] if k.startswith("W") else 0) for k in g}


def _dw2_doubled(p: Params, X: np.ndarray, Y: np.ndarray, lam: float) -> Params:
    g = backward(p, X, Y, lam)
    g["W2"] = 2 * g["W2"]
    return g


def _dropped_path(p: Params, X: np.ndarray, Y: np.ndarray, lam: float) -> Params:
    _, H1, Yhat = _forward(p, X)
    dA2 = (Yhat - Y) / X.shape[0]
    g = backward(p, X, Y, lam)
    dA1 = (dA2[:, :1] @ p["W2"][:1]) * H1 * (1 - H1)
    g["W1"] = dA1.T @ X + lam * p["W1"]
    g["b1"] = dA1.sum(axis=0)
    return g


def _db2_one_example(p: Params, X: np.ndarray, Y: np.ndarray, lam: float) -> Params:
    _, H1, Yhat = _forward(p, X)
    g = backward(p, X, Y, lam)
    g["b2"] = (Yhat - Y)[0] / X.shape[0]
    return g


def _db1_sign(p: Params, X: np.ndarray, Y: np.ndarray, lam: float) -> Params:
    g = backward(p, X, Y, lam)
    g["b1"] = -g["b1"]
    return g


def _mse_dz2(p: Params, X: np.ndarray, Y: np.ndarray, lam: float) -> Params:
    _, H1, Yhat = _forward(p, X)
    return _grads(p, X, (Yhat - Y) * Yhat * (1 - Yhat) / X.shape[0], H1, H1 * (1 - H1), lam)


def _dl_dyhat_as_dz2(p: Params, X: np.ndarray, Y: np.ndarray, lam: float) -> Params:
    _, H1, Yhat = _forward(p, X)
    dYhat = (-Y / Yhat + (1 - Y) / (1 - Yhat)) / X.shape[0]
    return _grads(p, X, dYhat, H1, H1 * (1 - H1), lam)


def _no_regularisation(p: Params, X: np.ndarray, Y: np.ndarray, lam: float) -> Params:
    return backward(p, X, Y, 0.0)


def _dw1_rows_swapped(p: Params, X: np.ndarray, Y: np.ndarray, lam: float) -> Params:
    g = backward(p, X, Y, lam)
    g["W1"] = g["W1"][::-1].copy()
    return g


def _w2_transposed_in_dh1(p: Params, X: np.ndarray, Y: np.ndarray, lam: float) -> Params:
    _, H1, Yhat = _forward(p, X)
    dA2 = (Yhat - Y) / X.shape[0]
    g = backward(p, X, Y, lam)
    dA1 = (dA2 @ p["W2"].T) * H1 * (1 - H1)
    g["W1"] = dA1.T @ X + lam * p["W1"]
    g["b1"] = dA1.sum(axis=0)
    return g


def _dw2_transposed(p: Params, X: np.ndarray, Y: np.ndarray, lam: float) -> Params:
    g = backward(p, X, Y, lam)
    g["W2"] = g["W2"].T.copy()
    return g


@dataclass(frozen=True)
class NetBug:
    """A buggy backward pass, the plain words for it, and whether it needs a square W2 or an L2 term."""

    description: str
    backward: Callable[..., Params]
    square_only: bool = False
    needs_lam: bool = False
    keyword: str = ""  # a word its diagnosis should contain without a catalogue


NET_BUGS: dict[str, NetBug] = {
    "sign_dz2": NetBug(
        "the sign of dL/da2 is flipped (y - ŷ instead of ŷ - y)", _bug(_sign_dz2), keyword="sign"
    ),
    "sigma_for_dsigma": NetBug(
        "σ(a) used for σ'(a) = σ(a)(1 - σ(a)) in the hidden layer", _bug(_sigma_for_dsigma)
    ),
    "dsigma_from_preactivation": NetBug(
        "σ'(a) computed as a(1 - a) from the pre-activation instead of h(1 - h)", _bug(_preactivation_dsigma)
    ),
    "no_mean": NetBug("the 1/m of the mean over examples is missing", _bug(_no_mean), keyword="factor"),
    "mean_twice": NetBug("the gradient is divided by m twice", _bug(_mean_twice), keyword="factor"),
    "dw2_doubled": NetBug("dW2 is twice too large", _bug(_dw2_doubled), keyword="factor 2"),
    "dropped_path": NetBug(
        "the hidden layer only receives the error through output 1 (a dropped path)", _bug(_dropped_path)
    ),
    "db2_one_example": NetBug(
        "db2 is taken from the first example instead of summed over all", _bug(_db2_one_example)
    ),
    "db1_sign": NetBug("the sign of db1 is flipped", _bug(_db1_sign), keyword="sign"),
    "mse_dz2": NetBug(
        "an MSE-style dL/da2 = (ŷ - y) ŷ(1 - ŷ) used with the cross-entropy loss", _bug(_mse_dz2)
    ),
    "dl_dyhat_as_dz2": NetBug(
        "dL/dŷ used as dL/da2 (the output sigmoid's derivative is missing)", _bug(_dl_dyhat_as_dz2)
    ),
    "no_regularisation": NetBug(
        "the gradient of the L2 term, λW, is missing", _bug(_no_regularisation), needs_lam=True
    ),
    "dw1_rows_swapped": NetBug(
        "the rows of dW1 are in reverse order (hidden units mixed up)", _bug(_dw1_rows_swapped)
    ),
    "w2_transposed_in_dh1": NetBug(
        "W2 transposed when propagating to the hidden layer (dA2 @ W2.T)",
        _bug(_w2_transposed_in_dh1),
        square_only=True,
    ),
    "dw2_transposed": NetBug(
        "dW2 transposed (H1.T @ dA2 instead of dA2.T @ H1)",
        _bug(_dw2_transposed),
        square_only=True,
        keyword="transpose",
    ),
}

LAM = 0.1


@dataclass(frozen=True)
class Draw:
    """One test point of the network: parameters, data and the L2 weight."""

    params: Params
    X: np.ndarray
    Y: np.ndarray
    lam: float
    sizes: tuple[int, int, int]

    def loss(self, params: Params) -> float:
        return net_loss(params, self.X, self.Y, self.lam)

    def backward(self, params: Params) -> Params:
        return backward(params, self.X, self.Y, self.lam)

    def bug(self, name: str) -> Callable[[Params], Params]:
        bug = NET_BUGS[name].backward
        return lambda params: bug(params, self.X, self.Y, self.lam)

    def catalogue(self) -> dict[str, Callable[[Params], Params]]:
        """{description: buggy gradient function} for every bug that applies to this draw."""
        return {b.description: self.bug(k) for k, b in NET_BUGS.items() if self.applies(k)}

    def applies(self, name: str) -> bool:
        bug = NET_BUGS[name]
        square = self.sizes[1] == self.sizes[2]
        return (square or not bug.square_only) and (self.lam > 0 or not bug.needs_lam)

    def output_parts(self) -> dict[str, Callable[[Params], float]]:
        """The loss split per output (the paths through ŷ_1, ŷ_2, ...) and the L2 term."""
        out: dict[str, Callable[[Params], float]] = {}
        for k in range(self.Y.shape[1]):
            out[f"output {k + 1}"] = lambda p, k=k: _output_loss(p, self.X, self.Y, k)
        if self.lam:
            out["L2 term"] = lambda p: net_loss(p, self.X, self.Y, self.lam) - models.loss(p, self.X, self.Y)
        return out

    def example_parts(self) -> dict[str, Callable[[Params], float]]:
        """The loss split per example (each divided by m), plus the L2 term."""
        m = self.X.shape[0]
        out: dict[str, Callable[[Params], float]] = {
            f"example {i}": (lambda p, i=i: models.loss(p, self.X[i : i + 1], self.Y[i : i + 1]) / m)
            for i in range(m)
        }
        if self.lam:
            out["L2 term"] = lambda p: net_loss(p, self.X, self.Y, self.lam) - models.loss(p, self.X, self.Y)
        return out


def _output_loss(params: Params, X: np.ndarray, Y: np.ndarray, k: int) -> float:
    A2 = models.forward(params, X)["A2"][:, k]
    y = Y[:, k]
    return float(np.sum(y * models.softplus(-A2) + (1 - y) * models.softplus(A2)) / X.shape[0])


REGIMES = ("ordinary", "saturated", "hidden_off", "square")


def regime(name: str, seed: int, m: int = 8, lam: float = LAM) -> Draw:
    """A reproducible test point of the network in regime ``name``."""
    rng = np.random.default_rng(10_000 + seed)
    if name == "square":
        sizes = (3, 3, 3)
        params = models.init_params(seed, sizes=sizes)
        X = rng.uniform(-2, 2, size=(m, 3))
        Y = (rng.uniform(size=(m, 3)) < 0.5).astype(np.float64)
        return Draw(params, X, Y, lam, sizes)
    sizes = models.LAYER_SIZES
    X, Y = models.make_dataset(m, seed)
    if name == "ordinary":
        params = models.init_params(seed)
    elif name == "saturated":
        params = models.init_params(seed, scale=10.0)
    elif name == "hidden_off":
        params = models.init_params(seed)
        params["b1"] = params["b1"] - 40.0
    elif name == "hidden_low":
        params = models.init_params(seed)
        params["b1"] = params["b1"] - 10.0
    else:
        raise ValueError(name)
    return Draw(params, X, Y, lam, tuple(sizes))


# ----------------------------------------------------------------------------- the sigmoid chain
def chain_grads(w: dict[str, float], x: float) -> dict[str, float]:
    """Correct dL/dw for L = -log σ(w3 σ(w2 σ(w1 x)))."""
    h1 = float(sigmoid(w["w1"] * x))
    h2 = float(sigmoid(w["w2"] * h1))
    y = float(sigmoid(w["w3"] * h2))
    da3 = y - 1.0
    da2 = da3 * w["w3"] * h2 * (1 - h2)
    da1 = da2 * w["w2"] * h1 * (1 - h1)
    return {"w1": da1 * x, "w2": da2 * h1, "w3": da3 * h2}


def chain_bug(name: str, w: dict[str, float], x: float) -> dict[str, float]:
    """A buggy chain gradient: ``sign`` (dL/da3 = 1 - y), ``sigma`` (σ for σ' at h2), ``w3`` (w3 dropped)."""
    h1 = float(sigmoid(w["w1"] * x))
    h2 = float(sigmoid(w["w2"] * h1))
    y = float(sigmoid(w["w3"] * h2))
    da3 = 1.0 - y if name == "sign" else y - 1.0
    dh2 = da3 * (1.0 if name == "w3" else w["w3"])
    da2 = dh2 * (h2 if name == "sigma" else h2 * (1 - h2))
    da1 = da2 * w["w2"] * h1 * (1 - h1)
    return {"w1": da1 * x, "w2": da2 * h1, "w3": da3 * h2}


CHAIN_BUGS = ("sign", "sigma", "w3")


# ----------------------------------------------------------------------------- one-variable functions
@dataclass(frozen=True)
class ScalarCase:
    """y(x), its derivative, buggy derivatives, and test points."""

    f: Callable[[float], float]
    df: Callable[[float], float]
    bugs: dict[str, Callable[[float], float]]
    points: tuple[float, ...]


SCALAR_CASES: dict[str, ScalarCase] = {
    "exp_exp": ScalarCase(
        f=lambda x: math.exp(math.exp(x * x)),
        df=lambda x: math.exp(math.exp(x * x)) * math.exp(x * x) * 2 * x,
        bugs={
            "missing inner e^{x²}": lambda x: math.exp(math.exp(x * x)) * 2 * x,
            "missing 2x": lambda x: math.exp(math.exp(x * x)) * math.exp(x * x),
        },
        points=(0.3, 1.0, 2.0, 2.5),
    ),
    "inv_exp": ScalarCase(
        f=lambda x: 1.0 / math.exp(x * x),
        df=lambda x: -2 * x / math.exp(x * x),
        bugs={
            "sign flipped": lambda x: 2 * x / math.exp(x * x),
            "-1/h2 instead of -1/h2²": lambda x: -2 * x,
        },
        points=(-1.5, 0.4, 1.0, 2.0),
    ),
}


# ----------------------------------------------------------------------------- chain-rule slips
# Wrong derivatives written the way students write them: forward steps h1, h2, ... then the product of
# the local derivatives, with one slip. Keys: what the checker should name (a fragment of its sentence).
def _exp_exp_steps(x: float) -> tuple[float, float, float]:
    h1 = x * x
    h2 = math.exp(h1)
    return h1, h2, math.exp(h2)


def _inv_exp_steps(x: float) -> tuple[float, float, float]:
    h1 = x * x
    h2 = math.exp(h1)
    return h1, h2, 1.0 / h2


#: the catalogue's sentences for three slips (the factor named, never its formula)
LACKS_DH2_DH1 = "your product lacks the factor dh2/dh1, the local derivative of the step h2 = e^h1"
FACTOR_2 = "dh1/dx written as x: a factor is missing from the derivative of x²"
MISSING_2X = "your product lacks the factor dh1/dx, the local derivative of the step h1 = x²"

EXP_EXP_SLIPS: dict[str, Callable[[float], float]] = {
    # every local derivative at its step's output (2·h1, e^{h2}, e^{y}): the case of issue 12
    "every local derivative is evaluated at its step's output": lambda x: (
        2 * _exp_exp_steps(x)[0] * math.exp(_exp_exp_steps(x)[1]) * math.exp(_exp_exp_steps(x)[2])
    ),
    "dy/dh2 is evaluated at the step's output y instead of its input h2": lambda x: (
        2 * x * math.exp(_exp_exp_steps(x)[0]) * math.exp(_exp_exp_steps(x)[2])
    ),
    MISSING_2X: lambda x: _exp_exp_steps(x)[2] * _exp_exp_steps(x)[1],
    LACKS_DH2_DH1: lambda x: _exp_exp_steps(x)[2] * 2 * x,
    FACTOR_2: lambda x: _exp_exp_steps(x)[2] * _exp_exp_steps(x)[1] * x,
}

INV_EXP_SLIPS: dict[str, Callable[[float], float]] = {
    MISSING_2X: lambda x: -1 / _inv_exp_steps(x)[1] ** 2 * _inv_exp_steps(x)[1],
    "dy/dh2 is evaluated at the step's output y instead of its input h2": lambda x: (
        -1 / _inv_exp_steps(x)[2] ** 2 * _inv_exp_steps(x)[1] * 2 * x
    ),
    FACTOR_2: lambda x: -1 / _inv_exp_steps(x)[1] ** 2 * _inv_exp_steps(x)[1] * x,
}


def chain_slip(slip: str, w: dict[str, float], x: float) -> dict[str, float]:
    """dL/dw of the sigmoid chain with one slip: ``no_x``, ``no_h1``, ``no_h2`` (an inner derivative
    dropped), ``sigma_h1`` (σ for σ' in the first unit), ``sigma_all`` (σ for σ' in every unit)."""
    h1 = float(sigmoid(w["w1"] * x))
    h2 = float(sigmoid(w["w2"] * h1))
    y = float(sigmoid(w["w3"] * h2))
    d1 = h1 if slip in ("sigma_h1", "sigma_all") else h1 * (1 - h1)
    d2 = h2 if slip == "sigma_all" else h2 * (1 - h2)
    d3 = y if slip == "sigma_all" else y * (1 - y)
    da3 = -1 / y * d3
    da2 = da3 * w["w3"] * d2
    da1 = da2 * w["w2"] * d1
    return {
        "w1": da1 * (1.0 if slip == "no_x" else x),
        "w2": da2 * (1.0 if slip == "no_h1" else h1),
        "w3": da3 * (1.0 if slip == "no_h2" else h2),
    }
