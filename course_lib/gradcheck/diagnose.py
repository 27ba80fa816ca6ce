r"""Plain-word explanations of a failed gradient check, most useful first.

For one parameter tensor with analytic entries $a$ and numerical reference $n$:

* non-finite entries, an all-zero gradient, a gradient where the loss does not depend on the parameter;
* **sign / constant factor**: $c = \langle a, n\rangle / \langle n, n\rangle$ over every checked entry
  at every test point; when $|a_i - c\,n_i|$ is within tolerance at all of them the gradient is $c$ times
  the right one, and $c$ is named only when it is a small rational $p/q$ ($p, q \le 12$: ``-1``, ``2``,
  ``1/2``, ``3``) or the number of examples (``m``, ``1/m``); any other constant ratio is stated as a number;
* **transposed** (square matrices): $a \approx n^\top$;
* **a few wrong entries**: which ones, and whether they share a row or column;
* **a missing inner derivative** of a one-variable check: received × k·x (or k·x²) = expected at every
  test point;
* **missing path or term**: see :mod:`~course_lib.gradcheck.partsfit`;
* **known mistakes**: the gradient equals a buggy variant from a caller's catalogue.

Every sentence is built from the numbers only, so the same input gives the same words; the advice uses
the words of the notebook's context (:mod:`~course_lib.gradcheck.context`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from course_lib.gradcheck.context import Advice, advice_for
from course_lib.gradcheck.inputs import format_value

__all__ = [
    "GENERIC",
    "UNNAMED",
    "TensorView",
    "catalogue_match",
    "inconclusive_sentence",
    "pattern_sentence",
    "worst_entry_sentence",
]


@dataclass(frozen=True)
class TensorView:
    """The checked entries of one parameter at one test point."""

    name: str
    shape: tuple[int, ...]
    local: np.ndarray  # flat indices (within the tensor) of the checked entries
    analytic: np.ndarray
    numeric: np.ndarray
    tol: np.ndarray
    failed: np.ndarray  # bool per checked entry
    at: float | None = None  # the parameter's value at this point, when it is a single number

    def label(self, j: int) -> str:
        """Label of checked entry ``j``: ``W1[2, 0]`` or the name for a number."""
        return self.label_of(int(self.local[j]))

    def label_of(self, flat: int) -> str:
        """Label of the entry at flat index ``flat`` within the tensor."""
        if not self.shape:
            return self.name
        index = np.unravel_index(flat, self.shape)
        return f"{self.name}[{', '.join(str(int(i)) for i in index)}]"


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"1 {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


def worst_entry_sentence(
    name: str, label: str, analytic: float, numeric: float, failed: int, checked: int, point: int, points: int
) -> str:
    """``W1: worst entry W1[2, 0] at test point 2: expected 0.1 (numerical derivative), received -0.1 ...``."""
    where = f" at test point {point + 1}" if point else ""
    which = f": worst entry {label}{where}" if label != name else where
    over = f" over {points} test points" if points > 1 else ""
    return (
        f"{name}{which}: expected {format_value(numeric)} (numerical derivative), received "
        f"{format_value(analytic)} from your code; {failed} of {checked} checked "
        f"{'entry differs' if checked == 1 else 'entries differ'}{over}."
    )


def _small_rational(mag: float) -> tuple[int, int] | None:
    """(p, q) with mag ≈ p/q, 1 <= p, q <= 12, gcd 1, when one fits to 1e-4 relative."""
    for q in range(1, 13):
        p = round(mag * q)
        if 1 <= p <= 12 and math.gcd(p, q) == 1 and abs(mag - p / q) <= 1e-4 * mag:
            return p, q
    return None


def _factor_advice(c: float, n_examples: int | None, advice: Advice) -> tuple[str, str] | None:
    """(the factor as written, what it means and where to look) for a small rational or m, else None."""
    sign = "-" if c < 0 else ""
    mag = abs(c)
    flipped = "the sign is flipped and " if c < 0 else ""
    if n_examples and n_examples > 1 and advice.examples:
        m = n_examples
        if abs(mag - m) <= 1e-4 * m:
            return f"{sign}m = {sign}{m}", (
                f"{flipped}the value is m = {m} times too large. The loss is a mean over the m = {m} examples, so "
                "its gradient needs the factor 1/m too: divide the summed gradient by m."
            )
        if abs(mag * m - 1) <= 1e-4:
            return f"{sign}1/m = {sign}1/{m}", (
                f"{flipped}the value is m = {m} times too small: the gradient was divided by m once too often "
                "(divide the summed gradient by m exactly once)."
            )
    pq = _small_rational(mag)
    if pq is None or pq == (1, 1):
        return None
    p, q = pq
    if q == 1:
        hint = ""
        if advice.examples and p > 2:
            hint = f" (if {p} is the number of examples, the 1/m of the mean is missing)"
        how = "twice" if p == 2 else f"{p} times"
        return f"{sign}{p}", f"{flipped}the value is {how} too large. Look for {advice.larger.format(k=p)}{hint}."
    if p == 1:
        if q == 2:
            return f"{sign}1/2", f"{flipped}the value is half what it should be. {advice.half}"
        return f"{sign}1/{q}", (
            f"{flipped}the value is {q} times too small. Look for {advice.smaller.format(k=q)}."
        )
    return f"{sign}{p}/{q}", f"{flipped}the size is off by the factor {p}/{q}. Look for a stray constant factor."


GENERIC = "no simple pattern"
UNNAMED = "the direction is right but a scale factor is wrong"  # a constant ratio that has no name


def _constant_factor(
    name: str, a: np.ndarray, n: np.ndarray, tol: np.ndarray, points: int, n_examples: int | None, advice: Advice
) -> str | None:
    """A sentence when a = c·n within tolerance at every entry given (every checked entry, every point)."""
    unit = float(np.max(np.abs(n)))  # scale first: n @ n overflows for entries near 1e200
    nn = float((n / unit) @ (n / unit)) if unit > 0 else 0.0
    if nn == 0:
        return None
    c = float((a / unit) @ (n / unit)) / nn
    if not np.all(np.abs(a - c * n) <= (1 + abs(c)) * tol):
        return None
    if a.size == 1:
        where = ""
    elif points > 1 and a.size == points:
        where = f" at all {points} test points"
    elif points > 1:
        where = f" at every checked entry of all {points} test points"
    else:
        where = " at every checked entry"
    if abs(c + 1) <= 1e-4:
        return f"{name}: the sign is flipped: received = -1 × expected{where}. {advice.sign}"
    named = _factor_advice(c, n_examples, advice)
    if named is not None:
        short, meaning = named
        return (
            f"{name}: off by a constant factor {short}: received = {short.split(' = ')[-1]} × expected{where}; "
            f"{meaning}"
        )
    if a.size > 1:  # one number is always "a multiple" of another: no evidence of a factor then
        return (
            f"{name}: received = {c:.4g} × expected{where}: {UNNAMED}; {advice.ratio}"
        )
    return None


def pattern_sentence(
    view: TensorView,
    n_examples: int | None = None,
    advice: Advice | None = None,
    others: Sequence[TensorView] = (),
) -> str:
    """The most likely mistake for a failed tensor, in plain words (always returns a sentence).

    ``view`` is the tensor at its first failing test point, ``others`` the same tensor at the other test
    points: a zero gradient, a sign or constant factor, a transpose or a set of wrong entries is only
    claimed when it holds at every one of them. When nothing specific fits, the sentence contains
    :data:`GENERIC` and the context's advice.
    """
    advice = advice or advice_for("general")
    views = [view, *others]
    a = np.concatenate([v.analytic for v in views])
    sentence = _special_values(view, advice, views)
    if sentence is None and np.all(np.isfinite(a)):
        n = np.concatenate([v.numeric for v in views])
        tol = np.concatenate([v.tol for v in views])
        sentence = _constant_factor(view.name, a, n, tol, len(views), n_examples, advice)
    if sentence is None and all(_is_transposed(v) for v in views):
        sentence = (
            f"{view.name}: your gradient is the transpose of the expected one: entry [i, j] must hold "
            f"dL/d{view.name}[i, j]. Swap the order of the matrix product (or add/remove a .T)."
        )
    sentence = sentence or _few_entries(views) or _missing_power(views, advice)
    if sentence is not None:
        return sentence
    what = "sign, constant factor, transpose, zero" if view.shape else "sign, constant factor, zero"
    return f"{view.name}: {GENERIC} ({what}) explains the difference. {advice.fallback}"


def _special_values(view: TensorView, advice: Advice, views: list[TensorView]) -> str | None:
    """NaN or inf at this point; a zero gradient where f depends on the parameter, or a gradient where it
    does not, at every point."""
    a, n, tol, name = view.analytic, view.numeric, view.tol, view.name
    bad = ~np.isfinite(a)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        kinds = " and ".join(k for k, m in (("NaN", np.isnan(a)), ("inf", np.isinf(a))) if m.any())
        return (
            f"{name} contains {kinds} in {int(bad.sum())} of {a.size} checked entries (first at "
            f"{view.label(j)}): a NaN or inf never passes. {advice.nonfinite}"
        )
    if all(np.all(np.abs(v.analytic) <= v.tol) for v in views) and not np.all(np.abs(n) <= tol):
        j = int(np.argmax(np.abs(n)))
        return (
            f"{name}: your gradient is zero, but {advice.output} does depend on {name} (expected "
            f"{format_value(n[j])} at {view.label(j)}): the backward pass never reaches {name}, or its "
            "result is not stored."
        )
    if all(np.all(np.abs(v.numeric) <= v.tol) for v in views):
        j = int(np.argmax(np.abs(a)))
        return (
            f"{name}: {advice.output} does not change when {name} changes at this point (expected 0), but "
            f"your gradient is {format_value(a[j])} at {view.label(j)}: that contribution does not belong "
            f"to {name}."
        )
    return None


def _variable(name: str) -> str:
    """The variable of a derivative's name: ``dy/dx`` -> ``x``, ``d(u²)/du`` -> ``u`` (else ``x``)."""
    match = re.search(r"/d([A-Za-z]\w*)\)?$", name)
    return match.group(1) if match else "x"


def _missing_power(views: list[TensorView], advice: Advice) -> str | None:
    """One variable checked at points with different values: received × k·x^p = expected at every point
    (k a small rational, p = 1 or 2) means the local derivative of an inner step such as x² is missing."""
    if len(views) < 2 or any(v.at is None or v.analytic.size != 1 for v in views):
        return None
    xs = np.array([v.at for v in views], dtype=np.float64)
    a = np.concatenate([v.analytic for v in views])
    n = np.concatenate([v.numeric for v in views])
    tol = np.concatenate([v.tol for v in views])
    if np.any(xs == 0) or not np.all(np.isfinite(a)) or np.allclose(np.abs(xs), abs(xs[0])):
        return None
    for p in (1, 2):
        b = a * xs**p
        scale = float(np.max(np.abs(b)))
        if scale == 0:
            continue
        k = float((n / scale) @ (b / scale)) / float((b / scale) @ (b / scale))
        pq = _small_rational(abs(k))
        if pq is None or pq[1] != 1 or not np.all(np.abs(n - k * b) <= 2 * tol):
            continue
        x = _variable(views[0].name)
        factor = f"{'-' if k < 0 else ''}{pq[0] if pq[0] != 1 else ''}{x}{'²' if p == 2 else ''}"
        return (
            f"{views[0].name}: received × {factor} = expected at all {len(views)} test points: the factor "
            f"{factor} is missing. That is the local derivative of an inner step (such as d({x}²)/d{x} = 2{x}): "
            "every step's local derivative belongs in the product, the inner ones too."
        )
    return None


def _is_transposed(view: TensorView) -> bool:
    a, n, tol = view.analytic, view.numeric, view.tol
    if not (len(view.shape) == 2 and view.shape[0] == view.shape[1] and view.local.size == math.prod(view.shape)):
        return False
    full_a, full_n, full_t = np.zeros(view.shape), np.zeros(view.shape), np.zeros(view.shape)
    full_a.flat[view.local], full_n.flat[view.local], full_t.flat[view.local] = a, n, tol
    return bool(np.all(np.abs(full_a - full_n.T) <= full_t + full_t.T))


def _few_entries(views: list[TensorView]) -> str | None:
    """At most half of the checked entries wrong, the same ones at every test point."""
    view = views[0]
    wrong = sorted({int(v.local[j]) for v in views for j in np.flatnonzero(~(np.abs(v.analytic - v.numeric) <= v.tol))})
    checked = {int(i) for v in views for i in v.local}
    if not 0 < len(wrong) <= len(checked) // 2:
        return None
    labels = ", ".join(view.label_of(i) for i in wrong[:4]) + (", ..." if len(wrong) > 4 else "")
    shared = ""
    if len(view.shape) == 2 and len(wrong) > 1:
        rows, cols = np.unravel_index(np.array(wrong), view.shape)
        if np.all(rows == rows[0]):
            shared = f"; all in row {int(rows[0])}"
        elif np.all(cols == cols[0]):
            shared = f"; all in column {int(cols[0])}"
    where = f" (at every one of the {len(views)} test points)" if len(views) > 1 else ""
    return (
        f"{view.name}: only {len(wrong)} of {len(checked)} checked entries are wrong ({labels}{shared}){where}: "
        "the formula is right in general, so check the indices (which unit, which input, which example) "
        "used for these."
    )


def catalogue_match(
    analytic: np.ndarray, mistakes: dict[str, np.ndarray], tol: np.ndarray, checked: np.ndarray
) -> str | None:
    """The first known mistake (in catalogue order) equal to ``analytic`` on every checked entry."""
    for description, values in mistakes.items():
        m = values[checked]
        if np.all(np.isfinite(m)) and np.all(np.abs(analytic[checked] - m) <= tol):
            return description
    return None


def inconclusive_sentence(
    label: str,
    analytic: float,
    numeric: float,
    kink: bool,
    left: float,
    right: float,
    error: float,
    count: int,
) -> str:
    """Why an entry was neither passed nor failed."""
    more = f" ({_plural(count, 'entry')} of this parameter inconclusive)" if count > 1 else ""
    if kink:
        return (
            f"{label}: inconclusive{more}: the loss has a kink here (a relu, abs or max exactly at its "
            "switch "
            f"point): its slope is {format_value(left)} on one side and {format_value(right)} on the "
            "other, so "
            f"there is no single derivative to compare with. Your {format_value(analytic)} is not "
            "counted as an "
            "error; check at a point away from the kink to be sure."
        )
    return (
        f"{label}: inconclusive{more}: the numerical reference {format_value(numeric)} is only known to "
        "about "
        f"±{error:.2g} here and your {format_value(analytic)} is within that; not counted as an error."
    )
