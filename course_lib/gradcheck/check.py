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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from course_lib import guard
from course_lib.gradcheck import diagnose
from course_lib.gradcheck.inputs import (
    GradientInputError,
    GradientTypeError,
    Layout,
    NonFiniteInputError,
    NotComplexSafeError,
    format_value,
    parse_grads,
    parse_params,
)
from course_lib.gradcheck.reference import LossFunction, Reference, Refined, choose_method
from course_lib.gradcheck.report import FAIL, INCONCLUSIVE, OK, GradientReport, ParamRow
from course_lib.gradcheck.tolerance import EPS, Tolerance

__all__ = ["MODES", "check_derivative", "check_gradients"]

MODES = ("auto", "full", "sampled", "directions")
_UNCHECKED, _OK, _INCONCLUSIVE, _FAIL = -1, 0, 1, 2
_STATUS = {_OK: OK, _INCONCLUSIVE: INCONCLUSIVE, _FAIL: FAIL}


@dataclass
class _Direction:
    analytic: float
    numeric: float
    tol: float
    status: int
    refined: Refined | None = None


@dataclass
class _Point:
    number: int
    theta: np.ndarray
    analytic: np.ndarray
    reference: Reference
    numeric: np.ndarray
    tol: np.ndarray
    status: np.ndarray
    refined: dict[int, Refined] = field(default_factory=dict)
    directions: dict[int, _Direction] = field(default_factory=dict)


@dataclass
class _Plan:
    mode: str
    entries: np.ndarray  # flat indices checked at every point (full / sampled)
    sampled: dict[int, np.ndarray]  # per tensor: entries to locate an error found by a direction
    directions: dict[int, np.ndarray]  # per tensor: a direction w (length P) supported on that tensor


def _plan(
    layout: Layout, theta: np.ndarray, mode: str, sample: int, max_full: int, rng: np.random.Generator
) -> _Plan:
    if mode == "auto":
        mode = "full" if layout.size <= max_full else "sampled"
    sampled: dict[int, np.ndarray] = {}
    directions: dict[int, np.ndarray] = {}
    for k in range(len(layout.names)):
        part = layout.slice(k)
        size = layout.sizes[k]
        chosen = np.arange(size) if size <= sample else np.sort(rng.choice(size, sample, replace=False))
        sampled[k] = chosen + part.start
        if mode != "full":
            w = np.zeros(layout.size)
            w[part] = rng.standard_normal(size) * np.maximum(1.0, np.abs(theta[part]))
            directions[k] = w
    if mode == "full":
        entries = np.arange(layout.size)
    elif mode == "sampled":
        entries = np.concatenate([sampled[k] for k in range(len(layout.names))])
    else:
        entries = np.zeros(0, dtype=int)
    return _Plan(mode, entries, sampled, directions)


class _Student:
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


def _nondeterminism(layout: Layout, first: np.ndarray, second: np.ndarray) -> list[tuple[int, str]]:
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


def _at_kink(analytic: float, refined: Refined, slack: float) -> int:
    """At a kink any value between the one-sided slopes is defensible (inconclusive); one far outside
    both (a wrong sign, a wrong factor) still fails."""
    lo, hi = sorted((refined.left, refined.right))
    slack += 0.1 * (hi - lo)
    return _INCONCLUSIVE if lo - slack <= analytic <= hi + slack else _FAIL


def _classify(point: _Point, idx: np.ndarray, tolerance: Tolerance, scale: float, notes: list[str]) -> None:
    """Compare the analytic gradient with the reference at ``idx`` and set status, numeric and tol there."""
    ref = point.reference
    if idx.size == 0:
        return
    ref.compute(idx)
    n = ref.values[idx].copy()
    tol = tolerance.per_entry(n, scale, ref.method, ref.steps[idx], ref.loss_max)
    a = point.analytic[idx]
    with np.errstate(invalid="ignore"):
        status = np.where(np.abs(a - n) <= tol, _OK, _FAIL)
    for j in np.flatnonzero(status == _FAIL):
        i = int(idx[j])
        if not math.isfinite(a[j]):
            continue
        refined = ref.refine(i)
        point.refined[i] = refined
        tol_c = float(
            tolerance.per_entry(np.array([refined.value]), scale, "central", refined.step, ref.loss_max)[0]
        )
        band = tolerance.band * refined.error
        if refined.kink:
            status[j] = _at_kink(a[j], refined, tol_c + band)
            continue
        if ref.method == "complex":
            if abs(n[j] - refined.value) <= tol_c + band + tol[j]:
                continue  # the complex step is confirmed: the entry fails
            notes.append(
                f"The complex step and central differences disagree at {ref.label(i)} "
                f"({format_value(n[j])} versus {format_value(refined.value)}): f is probably not fully "
                "complex-safe, so central differences were used there."
            )
        diff = abs(a[j] - refined.value)
        n[j], tol[j] = refined.value, tol_c
        if diff <= tol_c:
            status[j] = _OK
        elif diff <= tol_c + band:
            status[j] = _INCONCLUSIVE
        else:
            status[j] = _FAIL
    point.numeric[idx], point.tol[idx], point.status[idx] = n, tol, status


def _check_directions(point: _Point, plan: _Plan, tolerance: Tolerance, scale: float) -> None:
    ref = point.reference
    a = point.analytic
    finite = a[np.isfinite(a)]
    scale = max(scale, float(np.max(np.abs(finite))) if finite.size else 0.0)
    for k, w in plan.directions.items():
        part = ref.loss.layout.slice(k)
        analytic = float(a[part] @ w[part])
        numeric, step = ref.directional(w)
        size = float(np.abs(w).sum())
        floor = tolerance.atol_rel * scale * size
        if ref.method != "complex":
            floor = max(floor, tolerance.roundoff * EPS * ref.loss_max / step)
        tol = tolerance.relative(ref.method) * abs(numeric) + floor + tolerance.atol * size
        direction = _Direction(analytic, numeric, tol, _OK if abs(analytic - numeric) <= tol else _FAIL)
        if direction.status == _FAIL and math.isfinite(analytic):
            refined = ref.refine_directional(w)
            direction.refined = refined
            tol_c = (
                tolerance.relative("central") * abs(refined.value)
                + max(floor, tolerance.roundoff * EPS * ref.loss_max / refined.step)
                + tolerance.atol * size
            )
            diff = abs(analytic - refined.value)
            if (
                ref.method == "complex"
                and not refined.kink
                and abs(numeric - refined.value) <= (tol_c + tol + tolerance.band * refined.error)
            ):
                pass  # complex step confirmed
            else:
                direction.numeric, direction.tol = refined.value, tol_c
                if refined.kink:
                    direction.status = _at_kink(analytic, refined, tol_c + tolerance.band * refined.error)
                elif diff <= tol_c:
                    direction.status = _OK
                elif diff <= tol_c + tolerance.band * refined.error:
                    direction.status = _INCONCLUSIVE
        point.directions[k] = direction


def _evaluate(
    number: int,
    theta: np.ndarray,
    analytic: np.ndarray,
    reference: Reference,
    plan: _Plan,
    tolerance: Tolerance,
    notes: list[str],
) -> _Point:
    size = theta.size
    point = _Point(
        number,
        theta,
        analytic,
        reference,
        np.full(size, np.nan),
        np.full(size, np.nan),
        np.full(size, _UNCHECKED, dtype=np.int8),
    )
    reference.compute(plan.entries)
    values = reference.values[plan.entries]
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    _classify(point, plan.entries, tolerance, scale, notes)
    if plan.directions:
        _check_directions(point, plan, tolerance, scale)
    if plan.mode == "directions":
        for k, direction in point.directions.items():
            if direction.status != _OK:
                idx = plan.sampled[k]
                reference.compute(idx)
                local = float(np.max(np.abs(reference.values[idx])))
                _classify(point, idx, tolerance, max(scale, local), notes)
    return point


def _ratio(err: np.ndarray, tol: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(err == 0, 0.0, err / tol)
    return np.where(np.isnan(r), np.inf, r)


def _row(layout: Layout, k: int, points: list[_Point], forced: bool) -> ParamRow:
    part = layout.slice(k)
    candidates = []  # (status, ratio, point number, flat index or None)
    errors, rels = [], []
    checked = failed = inconclusive = 0
    for p in points:
        idx = np.arange(part.start, part.stop)
        idx = idx[p.status[idx] != _UNCHECKED]
        if idx.size:
            a, n, tol = p.analytic[idx], p.numeric[idx], p.tol[idx]
            with np.errstate(invalid="ignore"):
                err = np.abs(a - n)
                denom = np.maximum(np.abs(a), np.abs(n))
                rel = np.where(err == 0, 0.0, err / np.where(denom == 0, 1.0, denom))
            ratio = _ratio(err, tol)
            errors.append(err)
            rels.append(rel)
            status = p.status[idx]
            checked += idx.size
            failed += int(np.sum(status == _FAIL))
            inconclusive += int(np.sum(status == _INCONCLUSIVE))
            order = np.lexsort((-ratio, -status))
            j = int(order[0])
            candidates.append((int(status[j]), float(ratio[j]), p.number, int(idx[j])))
        direction = p.directions.get(k)
        if direction is not None:
            err = abs(direction.analytic - direction.numeric)
            rel = err / max(abs(direction.analytic), abs(direction.numeric)) if err else 0.0
            errors.append(np.array([err]))
            rels.append(np.array([rel]))
            ratio = float(_ratio(np.array([err]), np.array([direction.tol]))[0])
            candidates.append((direction.status, ratio, p.number, None))
    status, _, number, flat = max(candidates, key=lambda c: (c[0], c[1], -c[2]))
    point = next(p for p in points if p.number == number)
    if flat is None:
        direction = point.directions[k]
        worst_index, analytic, numeric, tol = None, direction.analytic, direction.numeric, direction.tol
    else:
        worst_index = layout.locate(flat)[1]
        analytic, numeric, tol = point.analytic[flat], point.numeric[flat], point.tol[flat]
    all_err = np.concatenate(errors)
    all_rel = np.concatenate(rels)
    return ParamRow(
        name=layout.names[k],
        shape=layout.shapes[k],
        status=FAIL if forced else _STATUS[status],
        max_abs_error=float(np.max(all_err)),
        max_rel_error=float(np.max(all_rel)),
        worst_index=worst_index,
        analytic=float(analytic),
        numeric=float(numeric),
        tolerance=float(tol),
        point=number,
        checked=checked,
        failed=failed,
        inconclusive=inconclusive,
    )


def _view(layout: Layout, k: int, point: _Point) -> diagnose.TensorView:
    part = layout.slice(k)
    idx = np.arange(part.start, part.stop)
    idx = idx[point.status[idx] != _UNCHECKED]
    return diagnose.TensorView(
        layout.names[k],
        layout.shapes[k],
        idx - part.start,
        point.analytic[idx],
        point.numeric[idx],
        point.tol[idx],
        point.status[idx] == _FAIL,
    )


def _perturbed_points(
    loss: LossFunction,
    layout: Layout,
    theta: np.ndarray,
    count: int,
    perturbation: float,
    rng: np.random.Generator,
    notes: list[str],
) -> list[tuple[np.ndarray, float]]:
    overall = float(np.sqrt(np.mean(theta**2))) if theta.size else 0.0
    scales = np.empty_like(theta)
    for k in range(len(layout.names)):
        part = layout.slice(k)
        rms = float(np.sqrt(np.mean(theta[part] ** 2)))
        scales[part] = rms if rms > 0 else (overall if overall > 0 else 1.0)
    out = []
    for j in range(count):
        z = rng.standard_normal(theta.size)
        for halving in range(6):
            candidate = theta + perturbation / 2**halving * scales * z
            try:
                out.append((candidate, loss.real_at_start(candidate)))
                break
            except NonFiniteInputError:
                continue
        else:
            notes.append(f"Extra test point {j + 1} was skipped: the loss is not finite near params there.")
    return out


def _validate_options(
    method: str,
    mode: str,
    sample: int,
    max_full: int,
    n_points: int,
    perturbation: float,
    seed: int,
    n_examples: int | None,
    strict: bool,
    name: str,
    exercise: str,
) -> None:
    if mode not in MODES:
        raise GradientInputError(f"mode must be one of {', '.join(repr(m) for m in MODES)}, got {mode!r}")
    for label, value, low in (
        ("sample", sample, 1),
        ("max_full", max_full, 1),
        ("n_points", n_points, 1),
        ("seed", seed, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise GradientInputError(f"{label} must be an integer >= {low}, got {value!r}")
    if n_examples is not None and (
        isinstance(n_examples, bool) or not isinstance(n_examples, int | np.integer) or n_examples < 1
    ):
        raise GradientInputError(f"n_examples must be None or an integer >= 1, got {n_examples!r}")
    if not (isinstance(perturbation, int | float) and math.isfinite(perturbation) and perturbation > 0):
        raise GradientInputError(f"perturbation must be a finite number > 0, got {perturbation!r}")
    if not isinstance(strict, bool):
        raise GradientTypeError(f"strict must be True or False, got {strict!r}")
    if not isinstance(name, str) or not isinstance(exercise, str):
        raise GradientTypeError("name and exercise must be strings")
    if not isinstance(method, str):
        raise GradientTypeError(f"method must be a string, got {method!r}")


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
    exercise: str = "your gradient function",
    strict: bool = False,
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
        mistakes: ``{description of a known mistake: its gradient (values or a function of params)}``.
        n_examples: the number m of examples the loss averages over, to name a factor m or 1/m.
        name: the parameter's name when ``params`` is a single value.
        exercise: the name shown by the guard if the gradient function calls a numerical or automatic
            gradient.
        strict: also fail when some entries are inconclusive (kink, uncertain reference).

    Raises:
        GradientInputError (a ValueError) or one of its subclasses for unusable input: names, shapes,
        types, a non-finite loss or parameter. ``AutodiffDisabledError`` if the gradient function calls
        course_lib's numerical or automatic gradients.
    """
    guard.ensure_allowed("course_lib.gradcheck.check_gradients")
    _validate_options(
        method, mode, sample, max_full, n_points, perturbation, seed, n_examples, strict, name, exercise
    )
    try:
        tolerance = Tolerance(rtol=rtol, atol_rel=atol_rel, atol=atol)
    except ValueError as exc:
        raise GradientInputError(str(exc)) from None
    layout, theta0 = parse_params(params, name)
    loss = LossFunction(f, layout)
    student = _Student(grads, layout, exercise)
    extra = []
    for j, p in enumerate(points or ()):
        if not student.is_function:
            raise GradientInputError("points= needs grads to be a function of params, not fixed values.")
        other_layout, theta = parse_params(p, name)
        if other_layout.names != layout.names or other_layout.shapes != layout.shapes:
            raise GradientInputError(f"points[{j}] does not have the names and shapes of params.")
        extra.append(theta)
    if parts is not None and (
        not isinstance(parts, Mapping) or not parts or not all(callable(v) for v in parts.values())
    ):
        raise GradientTypeError("parts must be a non-empty dict {description: function of params}.")
    if mistakes is not None and not isinstance(mistakes, Mapping):
        raise GradientTypeError("mistakes must be a dict {description: gradient or function of params}.")

    rng = np.random.default_rng(seed)
    resolved, method_note, f0 = choose_method(
        loss, theta0, "central" if method == "richardson" else method, rng
    )
    notes: list[str] = []
    if parts is not None:
        _check_parts_sum(parts, layout, theta0, f0 if f0 is not None else loss.real_at_start(theta0))

    analytic0, mutations = student.at(theta0)
    forced: dict[int, dict[str, str]] = {}  # parameter -> {"mutation" / "changed": first sentence}
    for k, sentence in mutations:
        forced.setdefault(k, {}).setdefault("mutation", sentence)
    if student.is_function:
        second, _ = student.at(theta0)
        for k, sentence in _nondeterminism(layout, analytic0, second):
            forced.setdefault(k, {}).setdefault("changed", sentence)

    todo: list[tuple[np.ndarray, float | None, bool]] = [(theta0, f0, False)]
    todo += [(t, None, False) for t in extra]
    if student.is_function and n_points > 1:
        todo += [
            (t, v, True)
            for t, v in _perturbed_points(loss, layout, theta0, n_points - 1, perturbation, rng, notes)
        ]
    plan = _plan(layout, theta0, mode, sample, max_full, rng)
    evaluated: list[_Point] = []
    for number, (theta, value, generated) in enumerate(todo):
        if number == 0:
            analytic = analytic0
        else:
            analytic, mutations = student.at(theta)
            for k, sentence in mutations:
                forced.setdefault(k, {}).setdefault("mutation", sentence)
        reference = Reference(loss, theta, resolved, f0=value)
        try:
            evaluated.append(_evaluate(number, theta, analytic, reference, plan, tolerance, notes))
        except NonFiniteInputError:
            if not generated:
                raise
            notes.append(f"Test point {number + 1} was skipped: the loss is not finite right next to it.")

    rows = [_row(layout, k, evaluated, k in forced) for k in range(len(layout.names))]
    diagnoses, extra_evals = _diagnose(layout, rows, evaluated, forced, parts, mistakes, n_examples, resolved)
    return GradientReport(
        rows=rows,
        diagnoses=diagnoses,
        method="complex step" if resolved == "complex" else "central differences",
        method_note=method_note if method_note != "requested" else "",
        points=len(evaluated),
        evaluations=loss.calls + extra_evals,
        gradient_calls=student.calls,
        mode=plan.mode,
        strict=strict,
        notes=list(dict.fromkeys(notes)),
    )


def _check_parts_sum(
    parts: Mapping[str, Callable[[Any], float]], layout: Layout, theta: np.ndarray, f0: float
) -> None:
    values = [LossFunction(part, layout).real_at_start(theta) for part in parts.values()]
    total = math.fsum(values)
    if abs(total - f0) > 1e-9 * (math.fsum(abs(v) for v in values) + abs(f0)) + 1e-300:
        raise GradientInputError(
            f"parts do not add up to f: f(params) = {format_value(f0)} but the parts sum to "
            f"{format_value(total)}; give parts f_k with f = Σ f_k."
        )


def _parts_gradients(
    parts: Mapping[str, Callable[[Any], float]], layout: Layout, point: _Point, idx: np.ndarray, method: str
) -> tuple[np.ndarray, int]:
    rows, evals = [], 0
    for part in parts.values():
        loss = LossFunction(part, layout)
        reference = Reference(loss, point.theta, method)
        try:
            reference.compute(idx)
        except NotComplexSafeError:
            reference = Reference(loss, point.theta, "central")
            reference.compute(idx)
        evals += loss.calls
        rows.append(reference.values[idx])
    return np.array(rows), evals


def _diagnose(
    layout: Layout,
    rows: list[ParamRow],
    points: list[_Point],
    forced: dict[int, dict[str, str]],
    parts: Mapping[str, Callable[[Any], float]] | None,
    mistakes: Mapping[str, Any] | None,
    n_examples: int | None,
    method: str,
) -> tuple[list[str], int]:
    """Sentences in order: per failed parameter its worst entry and its pattern (sign, factor, transpose,
    ...); the parts fit (missing path or term); a known mistake; calls that changed or wrote into params;
    inconclusive entries. A generic pattern sentence is dropped when a parts fit or a known mistake
    explains that parameter. Returns the sentences and the evaluations of ``parts`` spent."""
    per_param: list[tuple[int, str, str]] = []  # (parameter, worst-entry sentence, pattern sentence)
    direction_sentences: list[str] = []
    by_number = {p.number: p for p in points}
    for k, row in enumerate(rows):
        if row.status != FAIL:
            continue
        point = by_number[row.point]
        if row.failed == 0:
            direction = point.directions.get(k)
            if direction is not None and direction.status == _FAIL:
                direction_sentences.append(
                    f"{row.name}: along a random direction d your gradient gives Σ a·d = "
                    f"{format_value(direction.analytic)}, but the loss changes at the rate "
                    f"{format_value(direction.numeric)} (numeric); the sampled entries agree, so the "
                    "error is "
                    "in entries that were not sampled: run with mode='full' to locate it."
                )
            continue
        worst = diagnose.worst_entry_sentence(
            row.name,
            layout.label(k, row.worst_index),
            row.analytic,
            row.numeric,
            row.failed,
            row.checked,
            row.point,
            len(points),
        )
        per_param.append((k, worst, diagnose.pattern_sentence(_view(layout, k, point), n_examples)))

    explained: set[int] = set(forced)
    later: list[str] = []
    extra_evals = 0
    failing_points = [p for p in points if np.any(p.status == _FAIL)]
    if failing_points and per_param:
        point = failing_points[0]
        failing_here = [k for k, _, _ in per_param if np.any(point.status[layout.slice(k)] == _FAIL)]
        if parts and failing_here:
            fits, extra_evals = _fit_parts(layout, point, failing_here, parts, method)
            for c, ks in fits.items():
                later.append(
                    diagnose.describe_parts_fit([layout.names[k] for k in ks], np.array(c), list(parts))
                )
                explained.update(ks)
        if mistakes:
            match = _match_catalogue(layout, point, mistakes)
            if match is not None:
                where = f" (at test point {point.number + 1})" if point.number else ""
                later.append(f"Your gradient matches a known mistake{where}: {match}.")
                explained.update(k for k, _, _ in per_param)

    sentences: list[str] = []
    for k, worst, pattern in per_param:
        sentences.append(worst)
        if not (diagnose.GENERIC in pattern and k in explained):
            sentences.append(pattern)
    sentences += direction_sentences + later
    for k in sorted(forced):
        sentences.extend(forced[k][kind] for kind in ("changed", "mutation") if kind in forced[k])
    for k, row in enumerate(rows):
        if row.inconclusive:
            sentences.append(_inconclusive(layout, k, points, row.inconclusive))
    return sentences, extra_evals


def _fit_parts(
    layout: Layout,
    point: _Point,
    failing: list[int],
    parts: Mapping[str, Callable[[Any], float]],
    method: str,
) -> tuple[dict[tuple[int, ...], list[int]], int]:
    """Fit each failing parameter's gradient with the parts' gradients: {coefficients: [parameters]}."""
    chosen = [
        np.flatnonzero(point.status[layout.slice(k)] != _UNCHECKED) + layout.slice(k).start for k in failing
    ]
    idx = np.concatenate(chosen)
    gradients, evals = _parts_gradients(parts, layout, point, idx, method)
    groups: dict[tuple[int, ...], list[int]] = {}
    offset = 0
    for k, sel in zip(failing, chosen, strict=True):
        local = slice(offset, offset + sel.size)
        offset += sel.size
        if not np.all(np.isfinite(point.analytic[sel])):
            continue
        c = diagnose.fit_parts(point.analytic[sel], gradients[:, local], point.tol[sel])
        if c is not None:
            groups.setdefault(tuple(int(round(x)) for x in c), []).append(k)
    return groups, evals


def _match_catalogue(layout: Layout, point: _Point, mistakes: Mapping[str, Any]) -> str | None:
    """The first catalogued mistake equal to the student's gradient on every checked entry."""
    known = _known_mistakes(mistakes, layout, point)
    checked = np.flatnonzero(point.status != _UNCHECKED)
    tol = np.full(point.theta.size, np.inf)
    tol[checked] = np.where(point.status[checked] == _INCONCLUSIVE, np.inf, point.tol[checked])
    return diagnose.catalogue_match(point.analytic, known, tol, checked)


def _inconclusive(layout: Layout, k: int, points: list[_Point], count: int) -> str:
    part = layout.slice(k)
    for p in points:
        idx = np.arange(part.start, part.stop)
        idx = idx[p.status[idx] == _INCONCLUSIVE]
        if idx.size:
            i = int(idx[np.argmax(_ratio(np.abs(p.analytic[idx] - p.numeric[idx]), p.tol[idx]))])
            refined = p.refined[i]
            label = layout.label(*layout.locate(i))
            return diagnose.inconclusive_sentence(
                label,
                p.analytic[i],
                p.numeric[i],
                refined.kink,
                refined.left,
                refined.right,
                refined.error,
                count,
            )
    for p in points:
        direction = p.directions.get(k)
        if direction is not None and direction.status == _INCONCLUSIVE and direction.refined is not None:
            r = direction.refined
            return diagnose.inconclusive_sentence(
                f"{layout.names[k]} (direction)",
                direction.analytic,
                direction.numeric,
                r.kink,
                r.left,
                r.right,
                r.error,
                count,
            )
    return f"{layout.names[k]}: {count} inconclusive entries."


def _known_mistakes(mistakes: Mapping[str, Any], layout: Layout, point: _Point) -> dict[str, np.ndarray]:
    out = {}
    for description, value in mistakes.items():
        if callable(value):
            value = value(layout.build_copy(point.theta))
        elif point.number != 0:
            continue
        try:
            out[str(description)] = parse_grads(value, layout, f"mistakes[{description!r}]")
        except GradientInputError:
            continue
    return out


def check_derivative(
    f: Callable[[float], float],
    df: Callable[[float], float] | float,
    x: float | Sequence[float],
    **options: Any,
) -> GradientReport:
    r"""Check a one-variable derivative: ``df`` should be $f'(x)$.

    ``df`` is the student's derivative function (or its value at a single ``x``); ``x`` is a test point or
    a sequence of test points (each one checked, ``df`` must then be a function). Options are those of
    :func:`check_gradients` (``name`` defaults to ``"x"``). Example: $f(x) = e^{e^{x^2}}$ with
    $f'(x) = e^{e^{x^2}} e^{x^2}\,2x$ passes at $x = 2.5$ (where $f \approx 10^{225}$).
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
    options.setdefault("name", "x")
    return check_gradients(f, first, df, **options)
