r"""Known mistakes of the chain rule, generated from the computation graph of the checked function.

Given the notes' graph of a one-variable function (``course_lib.models.exp_exp_chain``,
``inv_exp_chain``, or ``lambda w1: sigmoid_chain(x, w1, w2, w3)``), :func:`chain_mistakes` returns the
derivative a student gets with one typical slip, as functions of the variable, for the checker's catalogue
(``check_derivative(..., chain=models.exp_exp_chain)``):

* a **missing local derivative**: one factor of the product left out, typically the inner one
  (``·2x`` of $h_1 = x^2$, ``·x`` of $a_1 = w_1 x$, ``·h1`` of $a_2 = w_2 h_1$);
* a local derivative **evaluated at the step's output** instead of its input (one step, or every step);
* the **missing factor 2** of $d(u^2)/du = 2u$;
* **σ where σ' is needed** (one unit, or every unit).

The derivative is the sum over the paths from the variable to the output of the product of the local
derivatives along each path; each mistake changes one (or every) factor of that kind. Nothing here is
available inside a graded function (:func:`course_lib.guard.ensure_allowed`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from course_lib import guard

__all__ = ["chain_mistakes"]

# op -> (how the step reads, its local derivative as text, its name in course_lib.answers.local)
_UNARY: dict[str, tuple[Callable[[str], str], Callable[[str], str], str | None]] = {
    "exp": (lambda u: f"e^{u}", lambda u: f"e^{u}", "exp_back"),
    "1/x": (lambda u: f"1/{u}", lambda u: f"−1/{u}²", "reciprocal_back"),
    "sigmoid": (lambda u: f"σ({u})", lambda u: f"σ({u})(1 − σ({u}))", "sigmoid_back"),
    "tanh": (lambda u: f"tanh({u})", lambda u: f"1 − tanh²({u})", "tanh_back"),
    "log": (lambda u: f"log {u}", lambda u: f"1/{u}", "log_back"),
    "-log": (lambda u: f"−log {u}", lambda u: f"−1/{u}", None),
}


def _power(op: str) -> float | None:
    if op.startswith("**"):
        try:
            return float(op[2:])
        except ValueError:
            return None
    return None


def _forms(node: Any, i: int) -> tuple[str, str] | None:
    """(the step as text, its local derivative with respect to parent ``i`` as text)."""
    u = node.parents[i].name
    if node.op in _UNARY:
        form, back, _ = _UNARY[node.op]
        return form(u), back(u)
    k = _power(node.op)
    if k is not None:
        return (f"{u}²", f"2{u}") if k == 2 else (f"{u}^{k:g}", f"{k:g}{u}^{k - 1:g}")
    if node.op == "*" and len(node.parents) == 2:
        other = node.parents[1 - i].name
        return f"{node.parents[0].name}·{node.parents[1].name}", other
    return None


def _at(node: Any, value: float) -> float:
    """The local derivative of a one-parent step evaluated at ``value`` (raises for other steps)."""
    local = guard.graded_answers("local", "course_lib.gradcheck.chain_mistakes")
    k = _power(node.op)
    if k is not None:
        return local.power_back(value, k)
    back = _UNARY[node.op][2]
    if back is None:
        raise ValueError(node.op)
    return getattr(local, back)(value)


def _paths(output: Any, source: Any) -> list[list[tuple[Any, int]]]:
    """Every path from ``source`` to ``output`` as a list of edges (node, index of the parent)."""
    if output is source:
        return [[]]
    out = []
    for i, parent in enumerate(output.parents):
        for path in _paths(parent, source):
            out.append([*path, (output, i)])
    return out


Change = Callable[[Any, int, float], float]


def _derivative(graph: Callable[[float], Mapping[str, Any]], source_key: str | None, change: Change) -> Callable:
    def value(x: Any) -> float:
        nodes = graph(float(x))
        keys = list(nodes)
        source = nodes[source_key if source_key is not None else keys[0]]
        total = 0.0
        for path in _paths(nodes[keys[-1]], source):
            total += math.prod(change(node, i, node.local_grads[i]) for node, i in path)
        return total

    return value


def _edges(graph: Callable[[float], Mapping[str, Any]], source_key: str | None, x: float) -> list[tuple[Any, int]]:
    nodes = graph(float(x))
    keys = list(nodes)
    source = nodes[source_key if source_key is not None else keys[0]]
    seen: dict[tuple[str, int], tuple[Any, int]] = {}
    for path in _paths(nodes[keys[-1]], source):
        for node, i in path:
            seen.setdefault((node.name, i), (node, i))
    return list(seen.values())


def _only(name: str, i: int, new: Callable[[Any, float], float]) -> Change:
    return lambda node, j, local: new(node, local) if (node.name, j) == (name, i) else local


def chain_mistakes(
    graph: Callable[[float], Mapping[str, Any]], at: float, source: str | None = None
) -> dict[str, Callable[[Any], float]]:
    """{description: the derivative with that mistake, as a function of the variable}.

    ``graph(x)`` returns the notes' nodes (a dict, output last); ``source`` is the key of the variable
    (default: the first key); ``at`` is a point at which the graph is built to list its steps.
    """
    guard.ensure_allowed("course_lib.gradcheck.chain_mistakes")
    try:
        guard.graded_answers("local")
    except guard.AnswerUnavailable:
        return {}  # while a notebook is graded: no catalogue of slips (the grader's own check names them)
    missing: dict[str, Change] = {}
    at_output: dict[str, Change] = {}
    special: dict[str, Change] = {}
    outputs: list[tuple[str, int]] = []
    sigmas: list[str] = []
    for node, i in _edges(graph, source, at):
        forms = _forms(node, i)
        if forms is None:
            continue
        v, u = node.name, node.parents[i].name
        form, dform = forms
        if node.op == "*":
            missing[f"your product lacks the inner factor d{v}/d{u} of {v} = {form}: it is a factor "
                    "of the chain rule product too"] = _only(v, i, lambda node, local: 1.0)
            continue
        missing[f"your product lacks the factor d{v}/d{u}, the local derivative of the step {v} = {form}: "
                "every step's local derivative is a factor, the inner ones too"] = _only(v, i, lambda node, local: 1.0)
        if node.op != "-log":
            outputs.append((v, i))
            at_output[f"d{v}/d{u} is evaluated at the step's output {v} instead of its input {u}: "
                      "a local derivative belongs at the value its step received"] = _only(
                v, i, lambda node, local: _at(node, node.value)
            )
        if _power(node.op) == 2:
            special[f"d{v}/d{u} written as {u}: a factor is missing from the derivative of {u}²; expand "
                    f"({u} + ε)² − {u}² and divide by ε"] = _only(
                v, i, lambda node, local: local / 2
            )
        if node.op == "sigmoid":
            sigmas.append(v)
            special[f"σ where σ' is needed: d{v}/d{u} is not {v} itself; "
                    "differentiate σ(a) = 1/(1 + e^(−a))"] = _only(
                v, i, lambda node, local: node.value
            )
    every: dict[str, Change] = {}
    if len(outputs) > 1:
        chosen = set(outputs)
        every["every local derivative is evaluated at its step's output instead of its input (each "
              "local derivative belongs at the point its step starts from)"] = (
            lambda node, j, local: _at(node, node.value) if (node.name, j) in chosen else local
        )
    if len(sigmas) > 1:
        every["σ where σ' is needed in every unit: each unit's output stands where its derivative belongs; "
              "σ' is not σ: differentiate σ(a) = 1/(1 + e^(−a))"] = (
            lambda node, j, local: node.value if node.op == "sigmoid" else local
        )
    changes = {**special, **missing, **at_output, **every}
    return {description: _derivative(graph, source, change) for description, change in changes.items()}
