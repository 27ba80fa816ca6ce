"""Explaining: the sentences of a failed check, the one a beginner needs first.

Order: a known mistake the gradient matches (at every test point); what the parts of the loss say (a
missing or doubled path or term); a function that changed between calls or wrote into its input; the
pattern of each failed parameter (sign, factor, transpose, ..., identical sentences merged across
parameters); a random direction that failed; then the numbers: each failed parameter's worst entry with the
expected and received values; last, inconclusive entries. The words come from the notebook's context
(:mod:`~course_lib.gradcheck.context`) and the sentence builders of :mod:`~course_lib.gradcheck.diagnose`
and :mod:`~course_lib.gradcheck.partsfit`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from course_lib.gradcheck import diagnose, partsfit
from course_lib.gradcheck.context import Advice
from course_lib.gradcheck.inputs import GradientInputError, Layout, NotComplexSafeError, format_value, parse_grads
from course_lib.gradcheck.judge import FAILED, UNCHECKED, UNSURE, Point, ratio
from course_lib.gradcheck.reference import LossFunction, Reference
from course_lib.gradcheck.report import FAIL, ParamRow

__all__ = ["Explainer", "check_parts_sum"]


def check_parts_sum(
    parts: Mapping[str, Callable[[Any], float]], layout: Layout, theta: np.ndarray, f0: float
) -> None:
    """Raise GradientInputError unless the parts add up to f at ``theta``."""
    values = [LossFunction(part, layout).real_at_start(theta) for part in parts.values()]
    total = math.fsum(values)
    if abs(total - f0) > 1e-9 * (math.fsum(abs(v) for v in values) + abs(f0)) + 1e-300:
        raise GradientInputError(
            f"parts do not add up to f: f(params) = {format_value(f0)} but the parts sum to "
            f"{format_value(total)}; give parts f_k with f = Σ f_k."
        )


def _view(layout: Layout, k: int, point: Point) -> diagnose.TensorView:
    """Parameter ``k``'s checked entries at ``point``."""
    part = layout.slice(k)
    idx = point.checked(part)
    return diagnose.TensorView(
        layout.names[k],
        layout.shapes[k],
        idx - part.start,
        point.analytic[idx],
        point.numeric[idx],
        point.tol[idx],
        point.status[idx] == FAILED,
        float(point.theta[part][0]) if layout.shapes[k] == () and len(layout.names) == 1 else None,
    )


def _merge(patterns: list[tuple[int, str]], layout: Layout) -> list[str]:
    """Identical sentences of several parameters as one: ``all 4 parameters (W1, b1, W2, b2): ...``."""
    groups: dict[str, list[int]] = {}
    alone: dict[int, str] = {}
    for k, sentence in patterns:
        name = layout.names[k]
        rest = sentence[len(name) + 2 :] if sentence.startswith(f"{name}: ") else ""
        if rest and name not in rest:
            groups.setdefault(rest, []).append(k)
        else:
            alone[k] = sentence
    out: list[tuple[int, str]] = [(k, s) for k, s in alone.items()]
    for rest, ks in groups.items():
        names = ", ".join(layout.names[k] for k in ks)
        if len(ks) == 1:
            who = names
        elif len(ks) == len(layout.names):
            who = f"all {len(ks)} parameters ({names})"
        else:
            who = names
        out.append((ks[0], f"{who}: {rest}"))
    # the specific sentences first, then the general advice; in parameter order within each
    return [s for _, s in sorted(out, key=lambda item: (diagnose.GENERIC in item[1], item[0]))]


@dataclass
class Explainer:
    """The sentences for one check: everything the explanations need, set once."""

    layout: Layout
    points: list[Point]
    method: str
    advice: Advice
    n_examples: int | None = None
    parts: Mapping[str, Callable[[Any], float]] | None = None
    mistakes: Mapping[str, Any] | None = None
    extra_evals: int = 0

    def sentences(self, rows: list[ParamRow], forced: dict[int, dict[str, str]]) -> list[str]:
        """Every sentence, in the order of the module docstring."""
        layout, points = self.layout, self.points
        failed = [k for k, row in enumerate(rows) if row.status == FAIL and row.failed]
        failing_points = [p for p in points if np.any(p.status == FAILED)]
        first: list[str] = []
        explained: set[int] = set(forced)
        if failing_points and failed:
            point = failing_points[0]
            here = [k for k in failed if np.any(point.status[layout.slice(k)] == FAILED)]
            match = self._match(failing_points) if self.mistakes else None
            if match is not None:
                names = ", ".join(layout.names[k] for k in failed)
                if len(failed) > 1 and len(failed) == len(layout.names):
                    names = f"all {len(failed)} parameters ({names})"
                first.append(f"{names}: your gradient matches a known mistake: {match}.")
                explained.update(failed)
            if self.parts and here:
                for c, ks in self._fit_parts(point, here).items():
                    names = [layout.names[k] for k in ks]
                    first.append(partsfit.describe_parts_fit(names, np.array(c), list(self.parts)))
                    explained.update(ks)
        for k in sorted(forced):
            first.extend(forced[k][kind] for kind in ("changed", "mutation") if kind in forced[k])
        patterns, numbers, directions = [], [], []
        by_number = {p.number: p for p in points}
        for k, row in enumerate(rows):
            if row.status != FAIL:
                continue
            if row.failed == 0:
                direction = by_number[row.point].directions.get(k)
                if direction is not None and direction.status == FAILED:
                    directions.append(self._direction_sentence(row.name, direction.analytic, direction.numeric))
                continue
            label = layout.label(k, row.worst_index)
            numbers.append(
                diagnose.worst_entry_sentence(
                    row.name, label, row.analytic, row.numeric, row.failed, row.checked, row.point, len(points)
                )
            )
            point = next(p for p in points if np.any(p.status[layout.slice(k)] == FAILED))
            others = [_view(layout, k, p) for p in points if p is not point and p.checked(layout.slice(k)).size]
            pattern = diagnose.pattern_sentence(_view(layout, k, point), self.n_examples, self.advice, others)
            vague = diagnose.GENERIC in pattern or diagnose.UNNAMED in pattern
            if not (vague and k in explained):
                patterns.append((k, pattern))
        out = first + _merge(patterns, layout) + directions + numbers
        for k, row in enumerate(rows):
            if row.inconclusive:
                out.append(self._inconclusive(k, row.inconclusive))
        return out

    @staticmethod
    def _direction_sentence(name: str, analytic: float, numeric: float) -> str:
        return (
            f"{name}: along a random direction d your gradient gives Σ a·d = {format_value(analytic)}, but "
            f"the function changes at the rate {format_value(numeric)} (numeric); the sampled entries agree, "
            "so the error is in entries that were not sampled: run with mode='full' to locate it."
        )

    def _parts_gradients(self, point: Point, idx: np.ndarray) -> np.ndarray:
        """The gradient of every part at ``point``, entries ``idx`` (K × len(idx))."""
        assert self.parts is not None
        gradients = []
        for part in self.parts.values():
            loss = LossFunction(part, self.layout)
            reference = Reference(loss, point.theta, self.method)
            try:
                reference.compute(idx)
            except NotComplexSafeError:
                reference = Reference(loss, point.theta, "central")
                reference.compute(idx)
            self.extra_evals += loss.calls
            gradients.append(reference.values[idx])
        return np.array(gradients)

    def _fit_parts(self, point: Point, failing: list[int]) -> dict[tuple[int, ...], list[int]]:
        """Fit each failing parameter's gradient with the parts' gradients at ``point``, then keep only
        the fits that hold at every other test point too: {coefficients: [parameters]}."""
        fits: dict[int, np.ndarray] = {}
        for k in failing:
            sel = point.checked(self.layout.slice(k))
            if np.all(np.isfinite(point.analytic[sel])):
                c = partsfit.fit_parts(point.analytic[sel], self._parts_gradients(point, sel), point.tol[sel])
                if c is not None:
                    fits[k] = c
        for other in self.points:
            for k in [k for k in fits if other is not point]:
                sel = other.checked(self.layout.slice(k))
                if sel.size and not partsfit.parts_fit_holds(
                    other.analytic[sel], self._parts_gradients(other, sel), other.tol[sel], fits[k]
                ):
                    del fits[k]
        groups: dict[tuple[int, ...], list[int]] = {}
        for k, c in fits.items():
            groups.setdefault(tuple(int(round(x)) for x in c), []).append(k)
        return groups

    def _values(self, description: str, point: Point) -> np.ndarray | None:
        """The catalogued gradient at ``point``, or None when it cannot be evaluated there."""
        assert self.mistakes is not None
        value = self.mistakes[description]
        if callable(value):
            try:
                with np.errstate(all="ignore"):
                    value = value(self.layout.build_copy(point.theta))
            except Exception:  # noqa: BLE001 - a mistake that cannot be evaluated here is no evidence
                return None
        try:
            return parse_grads(value, self.layout, f"mistakes[{description!r}]")
        except GradientInputError:
            return None

    def _match(self, failing: list[Point]) -> str | None:
        """The first catalogued mistake equal to the student's gradient on every checked entry of every
        test point. A mistake given as values (not a function) describes ``params`` only: it must match
        there, and the gradient must fail there."""
        assert self.mistakes is not None
        for description, value in self.mistakes.items():
            points = self.points if callable(value) else [p for p in failing if p.number == 0]
            if points and all(self._matches(description, p) for p in points):
                return str(description)
        return None

    def _matches(self, description: str, point: Point) -> bool:
        values = self._values(description, point)
        if values is None:
            return False
        checked = np.flatnonzero(point.status != UNCHECKED)
        tol = np.full(point.theta.size, np.inf)
        tol[checked] = np.where(point.status[checked] == UNSURE, np.inf, point.tol[checked])
        return diagnose.catalogue_match(point.analytic, {description: values}, tol, checked) is not None

    def _inconclusive(self, k: int, count: int) -> str:
        layout = self.layout
        part = layout.slice(k)
        for p in self.points:
            idx = np.arange(part.start, part.stop)
            idx = idx[p.status[idx] == UNSURE]
            if idx.size:
                i = int(idx[np.argmax(ratio(np.abs(p.analytic[idx] - p.numeric[idx]), p.tol[idx]))])
                r = p.refined[i]
                label = layout.label(*layout.locate(i))
                return diagnose.inconclusive_sentence(
                    label, p.analytic[i], p.numeric[i], r.kink, r.left, r.right, r.error, count
                )
        for p in self.points:
            direction = p.directions.get(k)
            if direction is not None and direction.status == UNSURE and direction.refined is not None:
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
