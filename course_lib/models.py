r"""The models of the lecture notes, forward only.

Their backward passes are the students' work (the graded exercises); here is only what the notes
compute going forward, in two forms (``flatten``, ``unflatten`` and ``sgd_step`` are graded answers: their
code is in :mod:`course_lib.answers`, left out while a notebook is graded):

* as :mod:`course_lib.graph` nodes, for drawings, traces, paths and automatic checks
  (:func:`exp_exp_chain`, :func:`inv_exp_chain`, :func:`sigmoid_chain`, :func:`network_graph`, and
  :func:`layered_chain`, a deep fully connected network for counting paths);
* as float64 numpy, for exercises, training and gradient checks (:func:`forward`, :func:`loss`,
  :func:`sigmoid_chain_loss`).

**The multi-path network** (inputs → 3 sigmoid hidden units → 2 sigmoid outputs, a loss on every output)::

    A1 = X @ W1.T + b1      a_1i = Σ_j w_1ij x_j + b_1i
    H1 = σ(A1)              h_1i
    A2 = H1 @ W2.T + b2     a_2k = Σ_i w_2ki h_1i + b_2k
    Yhat = σ(A2)            ŷ_k
    L = mean over examples of Σ_k −[y_k log ŷ_k + (1−y_k) log(1−ŷ_k)]

``X`` holds one example per row. Parameter names follow the notes: ``w_lij`` is the weight of layer
``l`` into unit ``i`` from input ``j`` (1-based), so ``w_131 = W1[2, 0]`` and ``w_212 = W2[0, 1]``;
``b_li = b_l[i-1]``. The flat vector θ lists W1 (row by row), b1, W2 (row by row), b2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from course_lib.graph import Node, aggregate, neg_log_likelihood
from course_lib.guard import graded_answers

__all__ = [
    "LAYER_SIZES",
    "PARAM_KEYS",
    "exp_exp_chain",
    "flatten",
    "forward",
    "init_params",
    "inv_exp_chain",
    "layered_chain",
    "loss",
    "make_dataset",
    "network_graph",
    "param_names",
    "param_shapes",
    "sgd_step",
    "sigmoid",
    "sigmoid_chain",
    "sigmoid_chain_loss",
    "softplus",
    "unflatten",
]

LAYER_SIZES: tuple[int, int, int] = (2, 3, 2)
PARAM_KEYS: tuple[str, str, str, str] = ("W1", "b1", "W2", "b2")


# --------------------------------------------------------------------------- scalar chains (graphs)
def exp_exp_chain(x: float) -> dict[str, Node]:
    r"""$y = e^{e^{x^2}}$ as the notes' elementary steps: $h_1 = x^2$, $h_2 = e^{h_1}$, $y = e^{h_2}$."""
    xn = Node(x, "x")
    h1 = (xn**2).named("h1")
    h2 = h1.exp().named("h2")
    y = h2.exp().named("y")
    return {"x": xn, "h1": h1, "h2": h2, "y": y}


def inv_exp_chain(x: float) -> dict[str, Node]:
    r"""$y = 1/e^{x^2}$ as steps: $h_1 = x^2$, $h_2 = e^{h_1}$, $y = 1/h_2$."""
    xn = Node(x, "x")
    h1 = (xn**2).named("h1")
    h2 = h1.exp().named("h2")
    y = h2.reciprocal().named("y")
    return {"x": xn, "h1": h1, "h2": h2, "y": y}


def sigmoid_chain(x: float, w1: float, w2: float, w3: float) -> dict[str, Node]:
    r"""The notes' chain of three sigmoid neurons with $L = -\log y$.

    $a_1 = w_1 x,\ h_1 = \sigma(a_1),\ a_2 = w_2 h_1,\ h_2 = \sigma(a_2),\ a_3 = w_3 h_2,\
    y = \sigma(a_3),\ L = -\log y$ (computed from the logit $a_3$, so it is finite when saturated).
    """
    xn, w1n, w2n, w3n = Node(x, "x"), Node(w1, "w1"), Node(w2, "w2"), Node(w3, "w3")
    a1 = (w1n * xn).named("a1")
    h1 = a1.sigmoid().named("h1")
    a2 = (w2n * h1).named("a2")
    h2 = a2.sigmoid().named("h2")
    a3 = (w3n * h2).named("a3")
    y = a3.sigmoid().named("y")
    loss_node = neg_log_likelihood([y], [1.0]).named("L")
    return {"x": xn, "w1": w1n, "w2": w2n, "w3": w3n, "a1": a1, "h1": h1, "a2": a2, "h2": h2,
            "a3": a3, "y": y, "L": loss_node}


# --------------------------------------------------------------------------- numpy forms
def sigmoid(z: np.ndarray | float) -> np.ndarray | float:
    r"""$\sigma(z) = 1/(1+e^{-z})$ elementwise, without overflow warnings for large $|z|$."""
    z = np.asarray(z, dtype=np.float64)
    ez = np.exp(-np.abs(z))
    out = np.where(z >= 0, 1.0 / (1.0 + ez), ez / (1.0 + ez))
    return float(out) if out.ndim == 0 else out


def softplus(z: np.ndarray | float) -> np.ndarray | float:
    r"""$\log(1+e^z)$ elementwise, stable: $\max(z,0) + \log(1+e^{-|z|})$."""
    z = np.asarray(z, dtype=np.float64)
    out = np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
    return float(out) if out.ndim == 0 else out


def sigmoid_chain_loss(w: Mapping[str, float], x: float) -> float:
    r"""$L = -\log\sigma(w_3\,\sigma(w_2\,\sigma(w_1 x)))$ = softplus($-a_3$), for ``w = {"w1", "w2", "w3"}``."""
    h1 = sigmoid(w["w1"] * x)
    h2 = sigmoid(w["w2"] * h1)
    return float(softplus(-(w["w3"] * h2)))


def param_shapes(sizes: Sequence[int] = LAYER_SIZES) -> dict[str, tuple[int, ...]]:
    """``{"W1": (n_hidden, n_in), "b1": (n_hidden,), "W2": (n_out, n_hidden), "b2": (n_out,)}``."""
    n_in, n_hidden, n_out = sizes
    return {"W1": (n_hidden, n_in), "b1": (n_hidden,), "W2": (n_out, n_hidden), "b2": (n_out,)}


def init_params(seed: int = 0, sizes: Sequence[int] = LAYER_SIZES, scale: float = 1.0) -> dict[str, np.ndarray]:
    """Random float64 parameters, weights ~ N(0, scale²), biases ~ N(0, (scale/2)²), from ``seed``."""
    rng = np.random.default_rng(seed)
    params = {}
    for key, shape in param_shapes(sizes).items():
        sd = scale if key.startswith("W") else scale / 2
        params[key] = rng.normal(0.0, sd, size=shape).astype(np.float64)
    return params


def _check_params(params: Mapping[str, np.ndarray]) -> None:
    missing = [k for k in PARAM_KEYS if k not in params]
    if missing:
        raise KeyError(f"params is missing {', '.join(missing)}: expected keys {', '.join(PARAM_KEYS)}")


def forward(params: Mapping[str, np.ndarray], X: np.ndarray) -> dict[str, np.ndarray]:
    """The network's forward pass on a batch ``X`` of shape (m, n_in): returns ``A1, H1, A2, Yhat``."""
    _check_params(params)
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    W1, b1, W2, b2 = (np.asarray(params[k], dtype=np.float64) for k in PARAM_KEYS)
    if X.shape[1] != W1.shape[1]:
        raise ValueError(f"X has {X.shape[1]} features per example but W1 expects {W1.shape[1]}")
    A1 = X @ W1.T + b1
    H1 = sigmoid(A1)
    A2 = H1 @ W2.T + b2
    return {"A1": A1, "H1": H1, "A2": A2, "Yhat": sigmoid(A2)}


def loss(params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> float:
    r"""Mean over examples of $\sum_k -[y_k\log\hat y_k + (1-y_k)\log(1-\hat y_k)]$, from the logits.

    Uses $-\log\sigma(a) = \mathrm{softplus}(-a)$ and $-\log(1-\sigma(a)) = \mathrm{softplus}(a)$, so the
    loss is finite even when outputs saturate.
    """
    A2 = forward(params, X)["A2"]
    Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
    if Y.shape != A2.shape:
        raise ValueError(f"Y has shape {Y.shape} but the network outputs {A2.shape}")
    per_entry = Y * softplus(-A2) + (1.0 - Y) * softplus(A2)
    return float(per_entry.sum() / A2.shape[0])


def param_names(sizes: Sequence[int] = LAYER_SIZES) -> list[str]:
    """The notes' name of every entry of θ, in flat order: ``w_111, w_112, …, b_11, …, w_211, …, b_22``."""
    names = []
    for key, shape in param_shapes(sizes).items():
        layer = key[1]
        if key.startswith("W"):
            names += [f"w_{layer}{i + 1}{j + 1}" for i in range(shape[0]) for j in range(shape[1])]
        else:
            names += [f"b_{layer}{i + 1}" for i in range(shape[0])]
    return names


def flatten(params: Mapping[str, np.ndarray]) -> np.ndarray:
    """θ as one float64 vector: W1 row by row, then b1, W2 row by row, b2."""
    _check_params(params)
    return graded_answers("network", "course_lib.models.flatten").flatten(params)


def unflatten(theta: np.ndarray, sizes: Sequence[int] = LAYER_SIZES) -> dict[str, np.ndarray]:
    """The inverse of :func:`flatten`: a vector back to layer-wise matrices (copies, float64)."""
    theta = np.asarray(theta, dtype=np.float64)
    shapes = param_shapes(sizes)
    expected = sum(int(np.prod(s)) for s in shapes.values())
    if theta.ndim != 1 or theta.size != expected:
        raise ValueError(f"θ must be a vector of {expected} numbers for sizes {tuple(sizes)}, got shape {theta.shape}")
    return graded_answers("network", "course_lib.models.unflatten").unflatten(theta, shapes)


def sgd_step(params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray], lr: float) -> dict[str, np.ndarray]:
    r"""One gradient-descent update $w' = w - \eta\,\partial L/\partial w$ for every parameter (new arrays)."""
    extra, missing = set(grads) - set(params), set(params) - set(grads)
    if extra or missing:
        raise KeyError(f"grads and params differ: missing {sorted(missing)}, extra {sorted(extra)}")
    for k, w in params.items():
        g_shape, w_shape = np.shape(grads[k]), np.shape(w)
        if g_shape != w_shape:
            raise ValueError(f"grads[{k!r}] has shape {g_shape} but params[{k!r}] has shape {w_shape}")
    return graded_answers("network", "course_lib.models.sgd_step").sgd_step(params, grads, lr)


def make_dataset(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A small generated two-output data set (no download).

    ``X``: n points uniform in [-2, 2]²; output 1 is 1 inside the circle of radius 1.2, output 2 is 1
    above the line x2 = 0.5·x1. Returns ``X`` (n, 2) and ``Y`` (n, 2), both float64.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2.0, 2.0, size=(n, 2))
    inside = (X**2).sum(axis=1) < 1.2**2
    above = X[:, 1] > 0.5 * X[:, 0]
    return X, np.stack([inside, above], axis=1).astype(np.float64)


# --------------------------------------------------------------------------- the network as a graph
def network_graph(params: Mapping[str, np.ndarray], x: Sequence[float], y: Sequence[float]) -> dict[str, Node]:
    """The network on one example as named graph nodes (``w_131``, ``a_13``, ``h_13``, ``yhat_1``, ``L``…).

    ``L`` is the sum over outputs of the cross-entropy, exactly :func:`loss` for a batch of one example.
    """
    _check_params(params)
    W1, b1, W2, b2 = (np.asarray(params[k], dtype=np.float64) for k in PARAM_KEYS)
    x = [float(v) for v in np.asarray(x, dtype=np.float64).ravel()]
    if len(x) != W1.shape[1]:
        raise ValueError(f"x has {len(x)} inputs but W1 expects {W1.shape[1]}")
    nodes: dict[str, Node] = {}
    inputs: list[Node] = []
    for j, xj in enumerate(x):
        nodes[f"x_{j + 1}"] = Node(xj, f"x_{j + 1}")
        inputs.append(nodes[f"x_{j + 1}"])
    for layer, (W, b) in enumerate(((W1, b1), (W2, b2)), start=1):
        outs: list[Node] = []
        for i in range(W.shape[0]):
            ws = [Node(W[i, j], f"w_{layer}{i + 1}{j + 1}") for j in range(W.shape[1])]
            bias = Node(b[i], f"b_{layer}{i + 1}")
            for node in (*ws, bias):
                nodes[node.label] = node
            a = aggregate(ws, inputs, bias).named(f"a_{layer}{i + 1}")
            h = a.sigmoid().named(f"h_{layer}{i + 1}" if layer == 1 else f"yhat_{i + 1}")
            nodes[a.label], nodes[h.label] = a, h
            outs.append(h)
        inputs = outs
    targets = [float(v) for v in np.asarray(y, dtype=np.float64).ravel()]
    nodes["L"] = neg_log_likelihood(outs, targets).named("L")
    return nodes


# --------------------------------------------------------------------------- a deep network as a graph (path counts)
def _weight_label(layer: int, i: int, j: int) -> str:
    """``w_lij``; with commas (``w_12,1,3``) once an index reaches 10, so names stay unambiguous."""
    if max(layer, i, j) < 10:
        return f"w_{layer}{i}{j}"
    return f"w_{layer},{i},{j}"


def layered_chain(depth: int, width: int) -> dict[str, Node]:
    """A fully connected sigmoid network of ``depth`` layers of ``width`` units, as graph nodes.

    ``a_li = Σ_j w_lij h_(l-1)j`` (an :func:`course_lib.graph.aggregate` node; layer 1 reads fixed data
    ``x_j``, which are numbers, not nodes), ``h_li = σ(a_li)``, and ``L`` is the cross-entropy of the last
    layer against targets of 1. The weights are fixed small numbers, so every call builds the same graph.
    Returns the nodes by name (``w_111``, ``a_11``, ``h_11``, ``L``).
    """
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be at least 1, got depth={depth}, width={width}")
    nodes: dict[str, Node] = {}
    inputs: list[Node] | list[float] = [0.5 + 0.1 * j for j in range(width)]
    outs: list[Node] = []
    for layer in range(1, depth + 1):
        outs = []
        for i in range(1, width + 1):
            weights = []
            for j in range(1, width + 1):
                w = Node(0.3 + 0.05 * ((layer + i + j) % 5) - 0.1 * (j % 2), _weight_label(layer, i, j))
                nodes[w.label] = w
                weights.append(w)
            suffix = f"{layer}{i}" if max(layer, i) < 10 else f"{layer},{i}"
            a = aggregate(weights, inputs).named(f"a_{suffix}")
            h = a.sigmoid().named(f"h_{suffix}")  # a graph node (this module's sigmoid is numpy)
            nodes[a.label], nodes[h.label] = a, h
            outs.append(h)
        inputs = outs
    nodes["L"] = neg_log_likelihood(outs, [1.0] * width).named("L")
    return nodes
