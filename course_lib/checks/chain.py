"""Self-check helpers for models whose weights come in a dict, such as notebook 02's sigmoid chain.

The generic part of a notebook's ``check-helpers`` cell, so that the cell keeps only what is specific to its
exercises. Nothing here is a graded answer or the reference of one: every expected value is either passed in
by the caller or comes from course_lib's numerical gradient (which is switched off inside a graded function,
see :mod:`course_lib.guard`).

* :func:`complex_sigmoid` — σ written so that the checker's complex step can differentiate it.
* :func:`check_entries` — a returned dict against expected values, key by key, with a hint per key.
* :func:`sigma_slips` — the catalogue entries "σ where σ′ is needed" for the units on a weight's path.
* :func:`check_weight` — one weight's gradient function against a numerical derivative of the loss.
* :func:`check_update` — one gradient-descent step against ``w − η·(numerical gradient)``.
* :func:`path_route`, :func:`path_factors`, :func:`factor_sentence` — name a path by its nodes and a factor
  that a product along it lacks or has once too often (received/expected is that factor or its inverse).
* :func:`factor_slips` — catalogue entries for a notes' factor (a unit differentiated in the one before it)
  missing from, or doubled in, a chain's product.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from course_lib.checks.values import expect_close
from course_lib.gradcheck import check_derivative, numerical_gradient
from course_lib.guard import hand_written_only

__all__ = ["check_entries", "check_update", "check_weight", "complex_sigmoid", "factor_sentence", "factor_slips",
           "path_factors", "path_route", "sigma_slips"]

#: an aggregation node (a1, a_13): inside a unit, not one of the notes' named steps between units
_AGGREGATION = re.compile(r"^a_?\d+$")


def complex_sigmoid(a: Any) -> Any:
    r"""$\sigma(a) = 1/(1 + e^{-a})$ for real *or complex* ``a`` (numpy arrays too).

    :func:`course_lib.models.sigmoid` is overflow-safe but real-only; the checker's complex step
    (the most accurate way to differentiate a function numerically) needs this plain form.
    """
    return 1 / (1 + np.exp(-a))


def check_entries(
    what: str, got: object, expected: Mapping[str, float], hints: Mapping[str, str] | None = None
) -> None:
    """Assert that ``got`` is a dict holding every key of ``expected``, each within 1e-9 of its value.

    ``what`` names the call in the message (``"forward_chain(1.0, {...})"``); ``hints`` gives the likely
    mistake for a key. A missing key or a value that is not a number fails with a message that says which.
    """
    keys = list(expected)
    missing = [k for k in keys if not isinstance(got, Mapping) or k not in got]
    assert not missing, (
        f"{what} must return a dict with the keys {', '.join(keys)}; missing {', '.join(missing)}"
        + ("" if isinstance(got, Mapping) else f" (it returned {got!r})")
    )
    hints = hints or {}
    for key in keys:
        expect_close(f"{what}[{key!r}]", got[key], float(expected[key]), hints.get(key, ""))


def sigma_slips(true_gradient: float, units: Mapping[str, float], on_path: Sequence[str]) -> dict[str, float]:
    """Catalogue entries for σ(a) written where σ′(a) = σ(a)(1 − σ(a)) is needed, on one weight's path.

    ``true_gradient`` is the (numerical) derivative of the loss in the weight; ``units`` maps each sigmoid
    unit's name to its output σ(a) at the test point; ``on_path`` names the units between the weight and the
    loss. Writing ``u`` for ``u(1 − u)`` divides the gradient by ``1 − u``: one entry per unit, plus one for
    the slip in every unit of the path when there are several. The result is the ``mistakes`` option of
    :func:`course_lib.gradcheck.check_derivative`.
    """
    unknown = [u for u in on_path if u not in units]
    if unknown:
        raise KeyError(f"sigma_slips: no output given for the unit(s) {', '.join(unknown)}")
    slips = {
        f"σ where σ' is needed for {u}: the unit's output {u} stands where its derivative belongs (σ' is not σ: "
        f"your d_sigmoid of Exercise 2.2 (a))": true_gradient / (1 - units[u]) for u in on_path
    }
    if len(on_path) > 1:
        slips["σ where σ' is needed in every unit: each unit's output stands where its derivative belongs"] = (
            true_gradient / math.prod(1 - units[u] for u in on_path)
        )
    return slips


def path_route(path: Any) -> str:
    """A path by its nodes, as the student finds it on the graph: ``"w_131 → a_13 → h_13 → a_21 → yhat_1 → L"``."""
    return " → ".join(node.name for node in path.nodes)


def path_factors(path: Any) -> dict[str, float]:
    """The local factor of each edge of a path (:class:`course_lib.paths.Path`), named ``∂b/∂a`` for ``a → b``."""
    return {f"∂{b.name}/∂{a.name}": f for a, b, f in zip(path.nodes, path.nodes[1:], path.factors, strict=False)}


def _unit_factors(path: Any) -> dict[str, float]:
    """The notes' factors of a chain: each unit differentiated in the node before it, through its aggregation
    (``dh2/dh1`` is the product of the edges h1 → a2 → h2); only those spanning two edges or more."""
    out: dict[str, float] = {}
    start, product, edges = path.nodes[0], 1.0, 0
    for node, factor in zip(path.nodes[1:], path.factors, strict=True):
        product, edges = product * factor, edges + 1
        if not _AGGREGATION.match(node.name):
            if edges > 1:
                out[f"d{node.name}/d{start.name}"] = product
            start, product, edges = node, 1.0, 0
    return out


def factor_sentence(what: str, received: float, expected: float, factors: Mapping[str, float]) -> str | None:
    """``"<what> lacks the factor ∂a_21/∂h_13 ..."`` when received/expected is the inverse of one named factor,
    ``"... has the factor ... once too often"`` when it is the factor; None otherwise (or when it is ambiguous).

    The sentence names the factor, never its value or formula (that is the student's to derive).
    """
    if not (math.isfinite(received) and math.isfinite(expected)) or expected == 0 or received == 0:
        return None
    ratio = received / expected
    close = [(name, f) for name, f in factors.items() if f != 0 and not math.isclose(abs(f), 1.0, rel_tol=1e-6)]
    lacks = [n for n, f in close if math.isclose(ratio, 1 / f, rel_tol=1e-7)]
    extra = [n for n, f in close if math.isclose(ratio, f, rel_tol=1e-7)]
    if len(lacks) == 1 and not extra:
        return (f"{what} lacks the factor {lacks[0]}: each arrow of the walk brings its local derivative, this "
                "one too")
    if len(extra) == 1 and not lacks:
        return f"{what} has the factor {extra[0]} once too often: each arrow of the walk brings its factor once"
    return None


def factor_slips(graph_at: Callable[[float], Mapping[str, Any]], source: str, what: str,
                 target: str = "L") -> dict[str, Callable[[float], float]]:
    """Catalogue entries (the ``mistakes`` option of the checker) for a notes' factor left out of a chain's
    product or counted twice, as functions of the variable: ``"dL/dw1 lacks the factor dh2/dh1 ..."``.

    ``graph_at(v)`` builds the notes' graph with the variable at ``v``; the factors are those of
    :func:`_unit_factors` along the single path from ``source`` to ``target``.
    """
    from course_lib.paths import enumerate_paths

    def path_at(v: float) -> Any:
        nodes = graph_at(float(v))
        (path,) = enumerate_paths(nodes[source], nodes[target])
        return path

    out: dict[str, Callable[[float], float]] = {}
    for name in _unit_factors(path_at(1.0)):
        def lacks(v: float, name: str = name) -> float:
            path = path_at(v)
            return path.product / _unit_factors(path)[name]

        def twice(v: float, name: str = name) -> float:
            path = path_at(v)
            return path.product * _unit_factors(path)[name]

        out[f"{what} lacks the factor {name}: the walk from {source} to {target} passes through that step, and "
            "each arrow brings its local derivative"] = lacks
        out[f"{what} has the factor {name} twice: each arrow of the walk brings its factor once"] = twice
    return out


def check_weight(
    loss: Callable[[dict[str, float], float], float],
    grad_fn: Callable[[float, dict[str, float]], float],
    name: str,
    x: float,
    w: Mapping[str, float],
    *,
    mistakes: Mapping[str, Any] | None = None,
    graph: Callable[..., Mapping[str, Any]] | None = None,
) -> None:
    """Assert that ``grad_fn(x, w)`` is dL/d``name`` at ``(x, w)``, the other weights held fixed.

    ``loss(w, x)`` is the model's loss (for example :func:`course_lib.models.sigmoid_chain_loss`);
    ``grad_fn`` is the student's gradient function, called with a fresh dict each time; its name is the
    exercise's name in the messages. ``mistakes`` are extra catalogue entries (:func:`sigma_slips`);
    ``graph(x, **w)`` returns the notes' nodes of the model, from which the checker adds the typical
    chain-rule slips. Fails with the checker's diagnosis (see :mod:`course_lib.gradcheck`).
    """
    if name not in w:
        raise KeyError(f"check_weight: {name!r} is not one of the weights {', '.join(w)}")
    fixed = dict(w)

    def loss_of(v: float) -> float:
        return loss({**fixed, name: v}, x)

    def grad_of(v: float) -> float:
        return grad_fn(x, {**fixed, name: v})

    options: dict[str, Any] = {"name": f"dL/d{name}", "exercise": getattr(grad_fn, "__name__", name)}
    if mistakes or graph is not None:
        options["mistakes"] = dict(mistakes or {})
    if graph is not None:
        options["mistakes"].update(factor_slips(lambda v: graph(x, **{**fixed, name: v}), name, f"dL/d{name}"))
        options["chain"] = lambda v: graph(x, **{**fixed, name: v})
        options["chain_input"] = name
    check_derivative(loss_of, grad_of, fixed[name], **options).assert_ok()


def check_update(
    step_fn: Callable[[float, dict[str, float], float], Mapping[str, float]],
    loss: Callable[[dict[str, float], float], float],
    x: float,
    w: dict[str, float],
    lr: float,
    *,
    on_mismatch: Callable[[Mapping[str, float]], None] | None = None,
    hint: str = "w' = w − η·dL/dw: subtract (adding climbs the loss) and multiply the gradient by η.",
) -> None:
    """Assert that ``step_fn(x, w, lr)`` returns a new dict ``w − lr·dL/dw`` and leaves ``w`` unchanged.

    ``step_fn`` is the student's gradient-descent step (run with course_lib's gradients switched off, see
    :func:`course_lib.guard.hand_written_only`); ``loss(w, x)`` is the model's loss, whose numerical gradient
    gives the expected step. ``on_mismatch(new)`` runs before the per-weight messages when the step is wrong:
    a notebook uses it to raise :class:`course_lib.checks.RightGivenYours` when the update is right for the
    student's own (wrong) gradients. ``hint`` is the likely mistake shown with a wrong weight.
    """
    name = getattr(step_fn, "__name__", "the step")
    before = dict(w)
    with hand_written_only(name):
        new = step_fn(x, w, lr)
    assert w == before, f"{name} changed the dict w it was given: build and return a new dict."
    numeric = numerical_gradient(lambda p: loss(p, x), before)
    expected = {key: before[key] - lr * numeric[key] for key in before}
    for key in before:
        assert isinstance(new, Mapping) and key in new, (
            f"{name} must return a dict with the keys {', '.join(before)}; it returned {new!r}"
        )
    if on_mismatch is not None and not all(
        math.isclose(new[key], expected[key], rel_tol=1e-9, abs_tol=1e-12) for key in before
    ):
        on_mismatch(new)
    for key in before:
        expect_close(f"w' [{key!r}] after one step with lr = {lr}", new[key], expected[key], hint)
