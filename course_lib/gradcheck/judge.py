r"""Judging: is each checked entry (or random direction) within tolerance of the numerical reference?

One rule, used for single entries and for random directions alike (:func:`settle`): a value within the
tolerance of :mod:`~course_lib.gradcheck.tolerance` passes; one outside it is re-measured with Richardson
extrapolation (:meth:`~course_lib.gradcheck.reference.Reference.refine`) and then

* with the complex step, a re-measurement that agrees with the complex step confirms it: the entry fails;
* at a kink, a value between the one-sided slopes (plus slack) is *inconclusive*, one outside fails;
* otherwise the entry passes within the central tolerance, is *inconclusive* within ``band`` times the
  re-measurement's own error estimate, and fails beyond it.

:func:`summarise` turns the judged points into one :class:`~course_lib.gradcheck.report.ParamRow` per
parameter, all of whose numbers come from the same (worst) entry at the same test point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from course_lib.gradcheck.inputs import Layout, format_value
from course_lib.gradcheck.plan import Plan
from course_lib.gradcheck.reference import Reference, Refined
from course_lib.gradcheck.report import FAIL, INCONCLUSIVE, OK, ParamRow
from course_lib.gradcheck.tolerance import Tolerance

__all__ = ["FAILED", "UNSURE", "PASSED", "UNCHECKED", "Direction", "Point", "evaluate", "ratio", "summarise"]

# status codes of an entry or direction (int8 arrays): inconclusive entries are "unsure"
UNCHECKED, PASSED, UNSURE, FAILED = -1, 0, 1, 2
STATUS_NAME = {PASSED: OK, UNSURE: INCONCLUSIVE, FAILED: FAIL}


@dataclass
class Direction:
    """A random direction ``w`` checked for one parameter: Σ a·w against the loss's rate of change."""

    analytic: float
    numeric: float
    tol: float
    status: int
    refined: Refined | None = None


@dataclass
class Point:
    """Everything judged at one test point: per flat entry the reference, tolerance and status."""

    number: int
    theta: np.ndarray
    analytic: np.ndarray
    reference: Reference
    numeric: np.ndarray
    tol: np.ndarray
    status: np.ndarray
    refined: dict[int, Refined] = field(default_factory=dict)
    directions: dict[int, Direction] = field(default_factory=dict)

    def checked(self, part: slice) -> np.ndarray:
        """Flat indices within ``part`` that were compared with the reference."""
        idx = np.arange(part.start, part.stop)
        return idx[self.status[idx] != UNCHECKED]


def _at_kink(analytic: float, refined: Refined, slack: float) -> int:
    """At a kink any value between the one-sided slopes is defensible (inconclusive); one far outside
    both (a wrong sign, a wrong factor) still fails."""
    lo, hi = sorted((refined.left, refined.right))
    slack += 0.1 * (hi - lo)
    return UNSURE if lo - slack <= analytic <= hi + slack else FAILED


def settle(
    analytic: float, first: float, first_tol: float, refined: Refined, tol_c: float, band: float, method: str
) -> tuple[int, float, float, bool]:
    """The verdict on a value outside ``first_tol`` of the first reference, after re-measuring.

    Returns (status, reference value, its tolerance, whether the complex step and central differences
    disagreed). ``tol_c`` is the central-difference tolerance at the re-measured value.
    """
    slack = band * refined.error
    if method == "complex" and not refined.kink and abs(first - refined.value) <= tol_c + slack + first_tol:
        return FAILED, first, first_tol, False  # central differences confirm the complex step
    disagree = method == "complex" and not refined.kink
    if refined.kink:
        status = _at_kink(analytic, refined, tol_c + slack)
    else:
        diff = abs(analytic - refined.value)
        status = PASSED if diff <= tol_c else UNSURE if diff <= tol_c + slack else FAILED
    return status, refined.value, tol_c, disagree


def _judge_entries(point: Point, idx: np.ndarray, tolerance: Tolerance, scale: float, notes: list[str]) -> None:
    """Compare the analytic gradient with the reference at ``idx`` and set status, numeric and tol there."""
    ref = point.reference
    if idx.size == 0:
        return
    ref.compute(idx)
    n = ref.values[idx].copy()
    tol = tolerance.per_entry(n, scale, ref.method, ref.steps[idx], ref.loss_max)
    a = point.analytic[idx]
    with np.errstate(invalid="ignore"):
        status = np.where(np.abs(a - n) <= tol, PASSED, FAILED)
    for j in np.flatnonzero(status == FAILED):
        i = int(idx[j])
        if not math.isfinite(a[j]):
            continue
        refined = ref.refine(i)
        point.refined[i] = refined
        tol_c = float(tolerance.per_entry(np.array([refined.value]), scale, "central", refined.step, ref.loss_max)[0])
        status[j], value, tol[j], disagree = settle(a[j], n[j], tol[j], refined, tol_c, tolerance.band, ref.method)
        if disagree:
            notes.append(
                f"The complex step and central differences disagree at {ref.label(i)} "
                f"({format_value(n[j])} versus {format_value(refined.value)}): f is probably not fully "
                "complex-safe, so central differences were used there."
            )
        n[j] = value
    point.numeric[idx], point.tol[idx], point.status[idx] = n, tol, status


def _judge_directions(point: Point, plan: Plan, tolerance: Tolerance, scale: float) -> None:
    ref = point.reference
    a = point.analytic
    finite = a[np.isfinite(a)]
    scale = max(scale, float(np.max(np.abs(finite))) if finite.size else 0.0)
    for k, w in plan.directions.items():
        part = ref.loss.layout.slice(k)
        analytic = float(a[part] @ w[part])
        numeric, step = ref.directional(w)
        size = float(np.abs(w).sum())
        tol = float(tolerance.per_entry(np.array([numeric]), scale, ref.method, step, ref.loss_max, size)[0])
        direction = Direction(analytic, numeric, tol, PASSED if abs(analytic - numeric) <= tol else FAILED)
        if direction.status == FAILED and math.isfinite(analytic):
            refined = ref.refine_directional(w)
            direction.refined = refined
            tol_c = float(
                tolerance.per_entry(np.array([refined.value]), scale, "central", refined.step, ref.loss_max, size)[0]
            )
            direction.status, direction.numeric, direction.tol, _ = settle(
                analytic, numeric, tol, refined, tol_c, tolerance.band, ref.method
            )
        point.directions[k] = direction


def evaluate(
    number: int,
    theta: np.ndarray,
    analytic: np.ndarray,
    reference: Reference,
    plan: Plan,
    tolerance: Tolerance,
    notes: list[str],
) -> Point:
    """Judge the student's gradient ``analytic`` at ``theta``: planned entries, then directions."""
    size = theta.size
    point = Point(
        number,
        theta,
        analytic,
        reference,
        np.full(size, np.nan),
        np.full(size, np.nan),
        np.full(size, UNCHECKED, dtype=np.int8),
    )
    reference.compute(plan.entries)
    values = reference.values[plan.entries]
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    _judge_entries(point, plan.entries, tolerance, scale, notes)
    if plan.directions:
        _judge_directions(point, plan, tolerance, scale)
    if plan.mode == "directions":
        for k, direction in point.directions.items():
            if direction.status != PASSED:
                idx = plan.sampled[k]
                reference.compute(idx)
                local = float(np.max(np.abs(reference.values[idx])))
                _judge_entries(point, idx, tolerance, max(scale, local), notes)
    return point


def ratio(err: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """err / tol, with 0 where err is 0 and inf where it is undefined (NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(err == 0, 0.0, err / tol)
    return np.where(np.isnan(r), np.inf, r)


def _relative(err: np.ndarray, a: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        denom = np.maximum(np.abs(a), np.abs(n))
        return np.where(err == 0, 0.0, err / np.where(denom == 0, 1.0, denom))


def summarise(layout: Layout, k: int, points: list[Point], forced: bool) -> ParamRow:
    """Parameter ``k``'s row: its worst entry over every point (status first, then err / tol)."""
    part = layout.slice(k)
    candidates = []  # (status, err / tol, point number, flat index or None)
    errors, rels = [], []
    checked = failed = inconclusive = 0
    for p in points:
        idx = p.checked(part)
        if idx.size:
            a, n, tol = p.analytic[idx], p.numeric[idx], p.tol[idx]
            with np.errstate(invalid="ignore"):
                err = np.abs(a - n)
            errors.append(err)
            rels.append(_relative(err, a, n))
            status = p.status[idx]
            checked += idx.size
            failed += int(np.sum(status == FAILED))
            inconclusive += int(np.sum(status == UNSURE))
            j = int(np.lexsort((-ratio(err, tol), -status))[0])
            candidates.append((int(status[j]), float(ratio(err, tol)[j]), p.number, int(idx[j])))
        direction = p.directions.get(k)
        if direction is not None:
            err = abs(direction.analytic - direction.numeric)
            errors.append(np.array([err]))
            rels.append(_relative(np.array([err]), np.array([direction.analytic]), np.array([direction.numeric])))
            r = float(ratio(np.array([err]), np.array([direction.tol]))[0])
            candidates.append((direction.status, r, p.number, None))
    status, _, number, flat = max(candidates, key=lambda c: (c[0], c[1], -c[2]))
    point = next(p for p in points if p.number == number)
    if flat is None:
        direction = point.directions[k]
        worst_index, analytic, numeric, tol = None, direction.analytic, direction.numeric, direction.tol
    else:
        worst_index = layout.locate(flat)[1]
        analytic, numeric, tol = point.analytic[flat], point.numeric[flat], point.tol[flat]
    return ParamRow(
        name=layout.names[k],
        shape=layout.shapes[k],
        status=FAIL if forced else STATUS_NAME[status],
        max_abs_error=float(np.max(np.concatenate(errors))),
        max_rel_error=float(np.max(np.concatenate(rels))),
        worst_index=worst_index,
        analytic=float(analytic),
        numeric=float(numeric),
        tolerance=float(tol),
        point=number,
        checked=checked,
        failed=failed,
        inconclusive=inconclusive,
    )
