r"""Compare a hand-written gradient with a numerical reference and explain every difference.

:func:`check_gradients` is what graders and students' self-checks call::

    report = check_gradients(loss_of_params, params, my_backward)   # my_backward(params) -> dict
    report.assert_ok()                                               # AssertionError(str(report))

How it decides, entry by entry (see :mod:`~course_lib.gradcheck.tolerance` and
:mod:`~course_lib.gradcheck.reference`): the reference is the complex step when ``f`` is complex-safe,
central differences otherwise; an entry passes when $|a_i - n_i|$ is within the tolerance; an entry
outside it is re-measured with Richardson extrapolation and fails only when it is also outside the
reference's own error estimate and is not at a kink, else it is *inconclusive* (reported, not failed).

When ``grads`` is a function (the student's backward pass) it runs inside
:func:`course_lib.guard.hand_written_only`, so it cannot call the numerical gradient or ``Node.backward``.
It is called

* twice at ``params`` (a gradient that changes between two identical calls fails: it accumulates into
  a global or modifies its inputs), on a fresh copy each time (a function that writes into ``params``
  fails too);
* once at each extra point in ``points`` (parameter dicts chosen by the caller);
* once at each of ``n_points - 1`` further points $\theta + p\,s_T\,z$, with $z \sim N(0, 1)$ from
  ``numpy.random.default_rng(seed)``, $p$ = ``perturbation`` and $s_T$ the RMS of each parameter tensor
  (halved up to five times if the loss is not finite there, else skipped with a note).

The work is split three ways: :mod:`~course_lib.gradcheck.plan` (which entries, directions and test points),
:mod:`~course_lib.gradcheck.judge` (tolerance and verdicts, one rule) and
:mod:`~course_lib.gradcheck.explain` (the sentences); this module runs them in order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from course_lib import guard
from course_lib.gradcheck.context import advice_for, resolve_context
from course_lib.gradcheck.explain import Explainer, check_parts_sum
from course_lib.gradcheck.inputs import (
    GradientInputError,
    GradientTypeError,
    Layout,
    NonFiniteInputError,
    parse_params,
)
from course_lib.gradcheck.judge import Point, evaluate, summarise
from course_lib.gradcheck.method import choose_method
from course_lib.gradcheck.mutants import chain_mistakes
from course_lib.gradcheck.plan import MODES, Plan, make_plan, perturbed_points, validate_options
from course_lib.gradcheck.reference import LossFunction, Reference
from course_lib.gradcheck.report import GradientReport
from course_lib.gradcheck.student import Student, nondeterminism
from course_lib.gradcheck.tolerance import Tolerance

__all__ = ["MODES", "check_derivative", "check_gradients"]

DEFAULT_EXERCISE = "your gradient function"


def check_gradients(
    f: Callable[[Any], float],
    params: Any,
    grads: Any,
    *,
    method: str = "auto",
    mode: str = "auto",
    sample: int = 20,
    max_full: int = 2000,
    rtol: float | None = None,
    atol_rel: float = 1e-8,
    atol: float = 0.0,
    points: Sequence[Any] | None = None,
    n_points: int = 2,
    perturbation: float = 0.1,
    seed: int = 0,
    parts: Mapping[str, Callable[[Any], float]] | None = None,
    mistakes: Mapping[str, Any] | None = None,
    n_examples: int | None = None,
    name: str = "x",
    exercise: str = DEFAULT_EXERCISE,
    strict: bool = False,
    context: str | None = None,
) -> GradientReport:
    r"""Check the hand-written gradient ``grads`` of the loss ``f`` at ``params``; return a report.

    Entry $i$ passes when $|a_i - n_i| \le r|n_i| + \max(\alpha \max_j|n_j|,\ 10\varepsilon L/h_i) + t$
    ($a$ analytic, $n$ numerical: complex step or central differences; see the module docstring).

    Args:
        f: ``f(params) -> float``, the loss.
        params: dict of name -> float or float64 array, or a single float or array (named ``name``).
        grads: the same structure holding dL/dparams, or a function ``grads(params)`` returning it.
        method: ``"auto"`` (complex step if ``f`` passes a complex-safety probe), ``"complex"``,
            ``"central"`` (``"richardson"`` is accepted as ``"central"``: refinement is automatic).
        mode: ``"full"`` (every entry: 2P+1 evaluations, P with the complex step), ``"sampled"``
            (``sample`` random entries per parameter after a one-direction-per-parameter pre-check),
            ``"directions"`` (the pre-check alone: 2T+1 evaluations for T parameters; entries are sampled
            only where a direction fails), ``"auto"`` (full up to ``max_full`` numbers, else sampled).
        rtol, atol_rel, atol: the tolerance (``rtol`` None: 1e-6 complex step, 1e-5 central).
        points: extra parameter points (same names and shapes) at which a gradient function is checked.
        n_points: total number of points for a gradient function, counting ``params`` and excluding
            ``points``; the extra ones are random perturbations of ``params`` (``perturbation``, ``seed``).
        seed: seeds ``numpy.random.default_rng`` for the probe, the perturbed points, samples, directions.
        parts: ``{description: f_k}`` with ``f = Σ f_k`` (per output, per example, per path, regulariser);
            used to name a missing, doubled or sign-flipped contribution when the check fails.
        mistakes: ``{description of a known mistake: its gradient (values or a function of params)}``;
            a function must match at every test point, values describe ``params`` only.
        n_examples: the number m of examples the loss averages over, to name a factor m or 1/m.
        name: the parameter's name when ``params`` is a single value.
        exercise: the exercise's name: shown in a failed verdict, and by the guard if the gradient
            function calls a numerical or automatic gradient.
        strict: also fail when some entries are inconclusive (kink, uncertain reference).
        context: where the check is in the course, so that advice uses only words taught so far
            (``"general"``, ``"chain-rule"``, ``"sigmoid-chain"``, ``"many-paths"``, ``"all-parameters"``;
            see :mod:`~course_lib.gradcheck.context`). None: the context set by ``set_context``.

    Raises:
        GradientInputError (a ValueError) or one of its subclasses for unusable input: names, shapes,
        types, a non-finite loss or parameter. ``AutodiffDisabledError`` if the gradient function calls
        course_lib's numerical or automatic gradients.
    """
    guard.ensure_allowed("course_lib.gradcheck.check_gradients")
    validate_options(
        method, mode, sample, max_full, n_points, perturbation, seed, n_examples, strict, name, exercise
    )
    try:
        tolerance = Tolerance(rtol=rtol, atol_rel=atol_rel, atol=atol)
    except ValueError as exc:
        raise GradientInputError(str(exc)) from None
    layout, theta0 = parse_params(params, name)
    student = Student(grads, layout, exercise)
    extra = _extra_points(points, layout, name, student.is_function)
    _validate_catalogues(parts, mistakes)
    return _run_check(
        LossFunction(f, layout), student, theta0, extra, tolerance,
        method="central" if method == "richardson" else method, mode=mode, sample=sample, max_full=max_full,
        n_points=n_points, perturbation=perturbation, seed=seed, parts=parts, mistakes=mistakes,
        n_examples=n_examples, strict=strict, exercise=exercise, advice=advice_for(resolve_context(context)),
    )


def _run_check(
    loss: LossFunction,
    student: Student,
    theta0: np.ndarray,
    extra: list[np.ndarray],
    tolerance: Tolerance,
    *,
    method: str,
    mode: str,
    sample: int,
    max_full: int,
    n_points: int,
    perturbation: float,
    seed: int,
    parts: Mapping[str, Callable[[Any], float]] | None,
    mistakes: Mapping[str, Any] | None,
    n_examples: int | None,
    strict: bool,
    exercise: str,
    advice: Any,
) -> GradientReport:
    """Judge validated input: choose the method and plan, judge every point, explain the failures."""
    layout = loss.layout
    rng = np.random.default_rng(seed)
    resolved, method_note, f0 = choose_method(loss, theta0, method, rng)
    notes: list[str] = []
    if parts is not None:
        check_parts_sum(parts, layout, theta0, f0 if f0 is not None else loss.real_at_start(theta0))

    todo: list[tuple[np.ndarray, float | None, bool]] = [(theta0, f0, False)] + [(t, None, False) for t in extra]
    if student.is_function and n_points > 1:
        near = perturbed_points(loss, layout, theta0, n_points - 1, perturbation, rng, notes)
        todo += [(t, v, True) for t, v in near]
    plan = make_plan(layout, theta0, mode, sample, max_full, rng)
    evaluated, forced = _judge_points(todo, student, loss, resolved, plan, tolerance, notes)

    rows = [summarise(layout, k, evaluated, k in forced) for k in range(len(layout.names))]
    explainer = Explainer(layout, evaluated, resolved, advice, n_examples, parts, mistakes)
    diagnoses = explainer.sentences(rows, forced)
    return GradientReport(
        rows=rows,
        diagnoses=diagnoses,
        method="complex step" if resolved == "complex" else "central differences",
        method_note=method_note if method_note != "requested" else "",
        points=len(evaluated),
        evaluations=loss.calls + explainer.extra_evals,
        gradient_calls=student.calls,
        mode=plan.mode,
        strict=strict,
        notes=list(dict.fromkeys(notes)),
        exercise="" if exercise == DEFAULT_EXERCISE else exercise,
    )


def _extra_points(points: Sequence[Any] | None, layout: Layout, name: str, is_function: bool) -> list[np.ndarray]:
    extra = []
    for j, p in enumerate(points or ()):
        if not is_function:
            raise GradientInputError("points= needs grads to be a function of params, not fixed values.")
        other_layout, theta = parse_params(p, name)
        if other_layout.names != layout.names or other_layout.shapes != layout.shapes:
            raise GradientInputError(f"points[{j}] does not have the names and shapes of params.")
        extra.append(theta)
    return extra


def _validate_catalogues(parts: Any, mistakes: Any) -> None:
    if parts is not None and (
        not isinstance(parts, Mapping) or not parts or not all(callable(v) for v in parts.values())
    ):
        raise GradientTypeError("parts must be a non-empty dict {description: function of params}.")
    if mistakes is not None and not isinstance(mistakes, Mapping):
        raise GradientTypeError("mistakes must be a dict {description: gradient or function of params}.")


def _judge_points(
    todo: list[tuple[np.ndarray, float | None, bool]],
    student: Student,
    loss: LossFunction,
    method: str,
    plan: Plan,
    tolerance: Tolerance,
    notes: list[str],
) -> tuple[list[Point], dict[int, dict[str, str]]]:
    """Call the student's gradient at every point (twice at the first) and judge it there.

    Returns the judged points and, per parameter, the first sentence about a gradient function that
    wrote into its input (``"mutation"``) or changed between two identical calls (``"changed"``).
    """
    forced: dict[int, dict[str, str]] = {}
    evaluated: list[Point] = []
    for number, (theta, value, generated) in enumerate(todo):
        analytic, mutations = student.at(theta)
        for k, sentence in mutations:
            forced.setdefault(k, {}).setdefault("mutation", sentence)
        if number == 0 and student.is_function:
            second, _ = student.at(theta)
            for k, sentence in nondeterminism(loss.layout, analytic, second):
                forced.setdefault(k, {}).setdefault("changed", sentence)
        reference = Reference(loss, theta, method, f0=value)
        try:
            evaluated.append(evaluate(number, theta, analytic, reference, plan, tolerance, notes))
        except NonFiniteInputError:
            if not generated:
                raise
            notes.append(f"Test point {number + 1} was skipped: the loss is not finite right next to it.")
    return evaluated, forced


def check_derivative(
    f: Callable[[float], float],
    df: Callable[[float], float] | float,
    x: float | Sequence[float],
    *,
    chain: Callable[[float], Mapping[str, Any]] | None = None,
    chain_input: str | None = None,
    **options: Any,
) -> GradientReport:
    r"""Check a one-variable derivative: ``df`` should be $f'(x)$.

    ``df`` is the student's derivative function (or its value at a single ``x``); ``x`` is a test point or
    a sequence of test points (each one checked, ``df`` must then be a function). Options are those of
    :func:`check_gradients` (``name`` defaults to ``"x"``). Example: $f(x) = e^{e^{x^2}}$ with
    $f'(x) = e^{e^{x^2}} e^{x^2}\,2x$ passes at $x = 2.5$ (where $f \approx 10^{225}$).

    ``chain``: the notes' graph of ``f`` (a function of the variable returning its nodes, output last, such
    as ``course_lib.models.exp_exp_chain``); ``chain_input`` is the key of the variable's node (default:
    the first). With it, the typical chain-rule slips of :func:`~course_lib.gradcheck.mutants.chain_mistakes`
    (a missing inner derivative, a local derivative evaluated at its step's output, the missing factor 2 of
    d(u²)/du, σ for σ') join the catalogue ``mistakes`` and are named when one matches at every test point.
    """
    guard.ensure_allowed("course_lib.gradcheck.check_derivative")
    if isinstance(x, list | tuple | np.ndarray) and np.ndim(x) == 1:
        if len(x) == 0:
            raise GradientInputError("x is an empty sequence: give at least one test point.")
        if not callable(df) and len(x) > 1:
            raise GradientInputError("several test points need df to be a function of x, not one value.")
        first, rest = x[0], list(x[1:])
        if rest:
            options["points"] = [*rest, *options.get("points", [])]
            options.setdefault("n_points", 1)
    else:
        first = x
    if chain is not None:
        if not callable(chain):
            raise GradientTypeError("chain must be a function of x returning the graph's nodes, output last.")
        try:
            generated = chain_mistakes(chain, float(first), chain_input)
        except (KeyError, TypeError, ValueError) as exc:
            raise GradientInputError(f"chain could not be built at x = {first!r}: {exc}") from None
        options["mistakes"] = {**(options.get("mistakes") or {}), **generated}
    options.setdefault("name", "x")
    return check_gradients(f, first, df, **options)
