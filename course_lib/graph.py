"""A scalar computation graph: the chain rule made visible.

Every :class:`Node` keeps its forward ``value``, the ``local_grads`` (the partial derivative of this node
with respect to each parent, evaluated during the forward pass) and, after :meth:`Node.backward`, its
``grad`` (dRoot/dNode). Each operation below computes its forward here and takes its local derivative from
:mod:`course_lib.answers.local` (left out of the grading sandbox: there ``local_grads`` and ``backward``
raise :class:`course_lib.guard.AnswerUnavailable`, while forward values still work).

Backward is the chain rule applied in reverse topological order::

    grad(parent) += grad(child) * d child / d parent      for every edge

so a node used along several paths receives the *sum* over those paths.

Design choices (each one fixes a classic pitfall):

* Parents are an ordered tuple, never a set, and topological order comes from a depth-first search over
  that tuple: layouts, traces and path lists are the same on every run.
* :meth:`Node.backward` first resets every gradient in the graph, so calling it twice gives the same
  result (it is idempotent). :meth:`Node.zero_grad` exists to reset gradients explicitly.
* Values are float64; NaN, inf and non-numbers are refused with an error that names the operation.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterable, Sequence

from course_lib import guard, ops

__all__ = [
    "GraphCycleError",
    "Node",
    "NonFiniteError",
    "aggregate",
    "as_node",
    "exp",
    "forward_order",
    "log",
    "neg_log_likelihood",
    "reciprocal",
    "relu",
    "sigmoid",
    "tanh",
    "topological_order",
    "total",
]


class NonFiniteError(ValueError):
    """A value or local derivative became NaN or infinite, or a value was not a real number."""


class GraphCycleError(ValueError):
    """The graph has a cycle, so there is no order in which to apply the chain rule."""


Number = float | int
_creation = itertools.count()


def _to_float(value: object, what: str) -> float:
    if isinstance(value, Node):
        raise TypeError(f"{what}: expected a number, got a Node; pass node.value for its number")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{what} must be a real number (int or float), got {type(value).__name__} {value!r}"
        )
    number = float(value)
    if not math.isfinite(number):
        raise NonFiniteError(f"{what} is {number}: a node's value must be a finite float")
    return number


class Node:
    """One scalar in the computation graph.

    Attributes:
        value: the forward value (float64).
        grad: d(root)/d(this node) after the last ``root.backward()``; 0.0 before.
        op: the operation that produced the node (``"input"`` for leaves, ``"const"`` for numbers).
        label: a name for tables and drawings (``"h1"``, ``"w_131"``).
        parents: the nodes this one was computed from, in argument order.
        local_grads: ``local_grads[i]`` = d(this)/d(parents[i]), computed in the forward pass.
    """

    __slots__ = ("value", "grad", "op", "label", "parents", "_local_grads", "serial")

    def __init__(
        self,
        value: Number,
        label: str = "",
        *,
        op: str = "input",
        parents: Sequence[Node] = (),
        local_grads: Sequence[float] | None = (),
    ) -> None:
        if guard.is_disabled():
            guard.ensure_allowed("course_lib's computation graph (Node, and the models built from it)")
        what = f"{op} node {label!r}" if label else f"{op} node"
        self.value: float = _to_float(value, f"value of {what}")
        if local_grads is not None and len(parents) != len(local_grads):
            raise ValueError(f"{what}: {len(parents)} parents but {len(local_grads)} local derivatives")
        self._local_grads: tuple[float, ...] | None = None if local_grads is None else tuple(
            _to_float(g, f"local derivative d({op})/d(input {i + 1}) of {what}")
            for i, g in enumerate(local_grads)
        )
        self.parents: tuple[Node, ...] = tuple(parents)
        self.grad: float = 0.0
        self.op = op
        self.label = label
        self.serial = next(_creation)

    @property
    def local_grads(self) -> tuple[float, ...]:
        """``local_grads[i]`` = d(this)/d(parents[i]); not available while a notebook is graded (see ``answers``)."""
        if self._local_grads is None:
            raise guard.unavailable("the local derivatives of course_lib's graph (Node.local_grads)")
        return self._local_grads

    @local_grads.setter
    def local_grads(self, values: Sequence[float]) -> None:
        self._local_grads = tuple(_to_float(g, f"local derivative {i + 1} of {self.name}")
                                  for i, g in enumerate(values))

    # ----------------------------------------------------------------- naming and display
    def named(self, label: str) -> Node:
        """Set the label and return the node, for chaining: ``h1 = (x**2).named("h1")``."""
        self.label = label
        return self

    @property
    def name(self) -> str:
        """The label; for an unlabelled node its operation (a constant: its value)."""
        return self.label or (f"{self.value:g}" if self.op == "const" else self.op)

    def __repr__(self) -> str:
        return f"Node({self.name}, value={self.value:.6g}, grad={self.grad:.6g}, op={self.op!r})"

    def __float__(self) -> float:
        return self.value

    # ----------------------------------------------------------------- arithmetic
    # Each operation: forward value, then the local derivative with respect to each input.
    def __add__(self, other: Node | Number) -> Node:
        other = as_node(other)
        # d(a+b)/da = 1, d(a+b)/db = 1
        return Node(self.value + other.value, op="+", parents=(self, other), local_grads=(1.0, 1.0))

    def __radd__(self, other: Number) -> Node:
        return as_node(other) + self

    def __sub__(self, other: Node | Number) -> Node:
        other = as_node(other)
        # d(a-b)/da = 1, d(a-b)/db = -1
        return Node(self.value - other.value, op="-", parents=(self, other), local_grads=(1.0, -1.0))

    def __rsub__(self, other: Number) -> Node:
        return as_node(other) - self

    def __mul__(self, other: Node | Number) -> Node:
        other = as_node(other)
        # d(ab)/da = b, d(ab)/db = a
        return Node(self.value * other.value, op="*", parents=(self, other),
                    local_grads=_local("product_back", self.value, other.value))

    def __rmul__(self, other: Number) -> Node:
        return as_node(other) * self

    def __neg__(self) -> Node:
        # d(-a)/da = -1
        return Node(-self.value, op="neg", parents=(self,), local_grads=(-1.0,))

    def __truediv__(self, other: Node | Number) -> Node:
        other = as_node(other)
        if other.value == 0:
            raise ZeroDivisionError(f"{self.name} / {other.name}: division by zero")
        a, b = self.value, other.value
        # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        return Node(a / b, op="/", parents=(self, other), local_grads=_local("quotient_back", a, b))

    def __rtruediv__(self, other: Number) -> Node:
        return as_node(other) / self

    def __pow__(self, k: Number) -> Node:
        if isinstance(k, Node):
            raise TypeError("x ** node is not supported: write exp(node * log(x)) instead")
        k = _to_float(k, "exponent")
        x = self.value
        if x < 0 and not k.is_integer():
            raise NonFiniteError(f"{self.name} ** {k:g}: a negative number to a fractional power")
        if x == 0 and k < 1:
            raise NonFiniteError(f"{self.name} ** {k:g} at 0: the derivative is infinite there")
        # d(x^k)/dx = k x^(k-1)
        return Node(x**k, op=f"**{k:g}", parents=(self,), local_grads=_local("power_back", x, k))

    def square(self) -> Node:
        """$x^2$, with local derivative $2x$ (the notes' $h_1 = x^2$)."""
        return self**2

    def reciprocal(self) -> Node:
        r"""$1/x$, with local derivative $-1/x^2$."""
        x = self.value
        return Node(ops.reciprocal(x), op="1/x", parents=(self,), local_grads=_local("reciprocal_back", x))

    def exp(self) -> Node:
        r"""$e^x$, with local derivative $e^x$."""
        x = self.value
        try:
            return Node(ops.exp(x), op="exp", parents=(self,), local_grads=_local("exp_back", x))
        except OverflowError:
            raise NonFiniteError(
                f"exp({x:g}) overflows float64 (the largest is about exp(709.78)); "
                "use smaller inputs, or compute a log-probability from the logit instead"
            ) from None

    def log(self) -> Node:
        r"""$\log x$, with local derivative $1/x$.

        When ``x`` is a sigmoid node $x = \sigma(z)$, the value is computed as
        $\log\sigma(z) = -\mathrm{softplus}(-z)$ and $1/x$ as $1 + e^{-z}$, so the loss
        $-\log y$ stays finite when the sigmoid saturates.
        """
        if self.op == "sigmoid":
            z = self.parents[0].value
            try:
                local = _local("log_of_sigmoid_back", z)
            except OverflowError:
                _saturated_exp(-z, self)  # raises the clear error
                raise
            return Node(ops.log_sigmoid(z), op="log", parents=(self,), local_grads=local)
        x = self.value
        return Node(ops.log(x), op="log", parents=(self,), local_grads=_local("log_back", x))

    def sigmoid(self) -> Node:
        r"""$\sigma(z) = 1/(1+e^{-z})$, with local derivative $\sigma(z)(1-\sigma(z))$."""
        z = self.value
        return Node(ops.sigmoid(z), op="sigmoid", parents=(self,), local_grads=_local("sigmoid_back", z))

    def tanh(self) -> Node:
        r"""$\tanh x$, with local derivative $1-\tanh^2 x$."""
        x = self.value
        return Node(ops.tanh(x), op="tanh", parents=(self,), local_grads=_local("tanh_back", x))

    def relu(self) -> Node:
        r"""$\max(0,x)$, with local derivative 1 for $x>0$ and 0 otherwise."""
        x = self.value
        return Node(ops.relu(x), op="relu", parents=(self,), local_grads=_local("relu_back", x))

    # ----------------------------------------------------------------- the chain rule
    def backward(self) -> None:
        """Fill ``grad`` of every node this one depends on with d(self)/d(node).

        Resets all gradients in the graph first, so repeated calls give identical results.
        """
        guard.ensure_allowed("Node.backward()")
        guard.graded_answers("engine", "Node.backward()").backward(self)

    def zero_grad(self) -> None:
        """Set ``grad`` to 0.0 on this node and every node it depends on."""
        for node in forward_order(self):
            node.grad = 0.0


def as_node(x: Node | Number) -> Node:
    """Return ``x`` if it is a Node, else wrap the number as a constant node."""
    if isinstance(x, Node):
        return x
    return Node(_to_float(x, "operand"), op="const")


def topological_order(root: Node) -> list[Node]:
    """All nodes ``root`` depends on, parents before children, ``root`` last (see :func:`forward_order`).

    Switched off while graded code runs (:mod:`course_lib.guard`): writing it is Exercise 5.1 of the course.
    """
    guard.ensure_allowed("course_lib.graph.topological_order()")
    return forward_order(root)


def forward_order(root: Node) -> list[Node]:
    """All nodes ``root`` depends on in the order of the forward computation, ``root`` last: course_lib's own order.

    The order course_lib's drawings (:mod:`course_lib.drawing.layout`), traces (:mod:`course_lib.trace`),
    path sums (:mod:`course_lib.paths`), widgets and :meth:`Node.zero_grad` walk a graph in. Unlike
    :func:`topological_order` (the graded one) it is not switched off by :func:`course_lib.guard.hand_written_only`:
    those tools may run while a graded function runs (a drawing of the student's forward pass, say) and each
    guards itself. The nodes are listed in creation order, the same on every run. Its code is
    :mod:`course_lib.answers.engine` (Exercise 5.1's answer), so it is not available while a notebook is
    graded (:class:`course_lib.guard.AnswerUnavailable`).

    It walks course_lib's own :class:`Node` graphs only: Exercise 5.1 asks for this order over the
    notebook's own ``Value`` class, so another class is refused rather than ordered.

    Raises:
        GraphCycleError: if following parents leads back to a node on the current path.
        TypeError: if ``root`` is not a course_lib :class:`Node`.
    """
    if not isinstance(root, Node):
        raise TypeError(f"forward_order walks course_lib's own Node graphs, not a {type(root).__name__}: in "
                        "Exercise 5.1 you write the order for your own Value class.")
    return guard.graded_answers("engine", "course_lib's topological order").topological_order(root)


def _local(name: str, *inputs: float) -> tuple[float, ...] | None:
    """The local derivative(s) of one step (:mod:`course_lib.answers.local`); None while a notebook is graded."""
    try:
        back = getattr(guard.graded_answers("local"), name)
    except guard.AnswerUnavailable:
        return None
    out = back(*inputs)
    return tuple(out) if isinstance(out, tuple | list) else (out,)


def _saturated_exp(u: float, y: Node) -> float:
    """e^u for 1/σ(z) = 1 + e^{-z}, with a clear error where the sigmoid is so saturated it overflows."""
    try:
        return math.exp(u)
    except OverflowError:
        raise NonFiniteError(
            f"the sigmoid {y.name} is saturated (its input is {y.parents[0].value:g}), so the local "
            "derivative 1/ŷ of the log-loss overflows float64; keep pre-activations within about ±700 "
            "(smaller weights or inputs)"
        ) from None


# --------------------------------------------------------------------- n-ary and loss operations
def total(terms: Iterable[Node | Number]) -> Node:
    """$\\sum_i t_i$ as one node; each local derivative is 1."""
    nodes = [as_node(t) for t in terms]
    if not nodes:
        raise ValueError("total() needs at least one term")
    return Node(math.fsum(n.value for n in nodes), op="sum", parents=nodes, local_grads=[1.0] * len(nodes))


def aggregate(weights: Sequence[Node], inputs: Sequence[Node | Number], bias: Node | None = None) -> Node:
    r"""The notes' aggregation $a = \sum_j w_j x_j\ (+\ b)$ as one node.

    Local derivatives: $\partial a/\partial w_j = x_j$, $\partial a/\partial x_j = w_j$,
    $\partial a/\partial b = 1$. Parents are ``(w_1..w_n, x_1..x_n[, b])``; constant inputs
    (data) are not added as parents.
    """
    if len(weights) != len(inputs):
        raise ValueError(f"aggregate: {len(weights)} weights but {len(inputs)} inputs")
    xs = [x if isinstance(x, Node) else _to_float(x, "aggregate input") for x in inputs]
    node_inputs = [x for x in xs if isinstance(x, Node)]
    parents: list[Node] = [*weights, *node_inputs, *([bias] if bias is not None else [])]
    x_values = [x.value if isinstance(x, Node) else x for x in xs]
    value = math.fsum(w.value * x for w, x in zip(weights, x_values, strict=True))
    if bias is not None:
        value += bias.value
    local = _local("aggregate_locals", [w.value for w in weights], x_values, [isinstance(x, Node) for x in xs],
                   bias is not None)
    return Node(value, op="Σw·x", parents=parents, local_grads=local)


def neg_log_likelihood(outputs: Sequence[Node], targets: Sequence[float]) -> Node:
    r"""Cross-entropy loss $L = -\sum_k [t_k \log \hat y_k + (1-t_k)\log(1-\hat y_k)]$ as one node.

    Local derivative: $\partial L/\partial \hat y_k = -t_k/\hat y_k + (1-t_k)/(1-\hat y_k)$.
    With one output and target 1 this is the notes' $L = -\log y$, $dL/dy = -1/y$.
    When $\hat y_k = \sigma(z_k)$ is a sigmoid node, the value and derivative are computed from the
    logit $z_k$ (softplus), so they stay finite when the sigmoid saturates.
    """
    if len(outputs) != len(targets):
        raise ValueError(f"neg_log_likelihood: {len(outputs)} outputs but {len(targets)} targets")
    value_terms: list[float] = []
    local: list[float] | None = []
    for k, (yhat, t) in enumerate(zip(outputs, targets, strict=True)):
        t = _to_float(t, f"target {k + 1}")
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"target {k + 1} is {t}: cross-entropy targets must lie in [0, 1]")
        if yhat.op == "sigmoid":
            z = yhat.parents[0].value
            # -log σ(z) = softplus(-z), -log(1-σ(z)) = softplus(z); 1/σ(z) = 1+e^{-z}, 1/(1-σ) = 1+e^{z}
            value_terms.append(t * ops.softplus(-z) + (1.0 - t) * ops.softplus(z))
            inv_y = 1.0 + _saturated_exp(-z, yhat) if t else 0.0
            inv_1my = 1.0 + _saturated_exp(z, yhat) if t != 1.0 else 0.0
        else:
            y = yhat.value
            if not 0.0 < y < 1.0:
                raise ValueError(f"output {yhat.name} = {y}: cross-entropy needs 0 < ŷ < 1")
            value_terms.append(-t * math.log(y) - (1.0 - t) * math.log1p(-y))
            inv_y, inv_1my = 1.0 / y, 1.0 / (1.0 - y)
        back = _local("nll_back", t, inv_y, inv_1my)
        local = None if back is None or local is None else [*local, *back]
    op = "-log" if len(outputs) == 1 and float(targets[0]) == 1.0 else "NLL"
    return Node(math.fsum(value_terms), op=op, parents=list(outputs), local_grads=local)


# --------------------------------------------------------------------- function forms
def exp(x: Node | Number) -> Node:
    """``as_node(x).exp()``."""
    return as_node(x).exp()


def log(x: Node | Number) -> Node:
    """``as_node(x).log()``."""
    return as_node(x).log()


def sigmoid(x: Node | Number) -> Node:
    """``as_node(x).sigmoid()``."""
    return as_node(x).sigmoid()


def tanh(x: Node | Number) -> Node:
    """``as_node(x).tanh()``."""
    return as_node(x).tanh()


def relu(x: Node | Number) -> Node:
    """``as_node(x).relu()``."""
    return as_node(x).relu()


def reciprocal(x: Node | Number) -> Node:
    """``as_node(x).reciprocal()``."""
    return as_node(x).reciprocal()
