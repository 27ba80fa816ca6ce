r"""Numerical reference gradients: complex step where the loss allows it, central differences otherwise.

* **Complex step** (when ``f`` is complex-safe): $\partial_i f(\theta) \approx \operatorname{Im}
  f(\theta + i h e_i)/h$ with $h = 10^{-20}$. Nothing is subtracted, so the result is accurate to about
  $10^{-16}$ relative, with one evaluation per entry (P in all). Where $h\,|\partial_i f|$ would underflow
  (the imaginary part is below $10^{-280}$) the entry is redone with $h = 10^{-8}\max(1, |\theta_i|)$.
* **Central differences**: $\partial_i f \approx \frac{f(\theta + h_i e_i) - f(\theta - h_i e_i)}
  {(\theta_i + h_i) - (\theta_i - h_i)}$ with $h_i = \varepsilon^{1/3}\max(1, |\theta_i|)$, the step "made
  exact" (the denominator is the distance actually moved in float64). About $10^{-10}$ relative; 2P+1
  evaluations.
* **Richardson** (for an entry the check would otherwise fail, or ``method="richardson"``): central
  differences $D_1$ at $h$ and $D_2$ at $h/2$ give $R = (4D_2 - D_1)/3$ and the error estimate
  $|D_1 - D_2|/3$. The one-sided slopes at both steps reveal a **kink** (relu at 0): at a kink their
  difference does not shrink with the step, in a smooth function it halves.

A complex-safety probe decides between the first two (:mod:`~course_lib.gradcheck.method`).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from course_lib.gradcheck.inputs import (
    GradientInputError,
    GradientTypeError,
    Layout,
    NonFiniteInputError,
    NotComplexSafeError,
    format_value,
)
from course_lib.gradcheck.tolerance import EPS

__all__ = [
    "CENTRAL_STEP",
    "COMPLEX_STEP",
    "Line",
    "LossFunction",
    "Reference",
    "Refined",
]

CENTRAL_STEP = EPS ** (1.0 / 3.0)  # ≈ 6.06e-6: balances truncation (h²) against round-off (ε/h)
COMPLEX_STEP = 1e-20
COMPLEX_FALLBACK_STEP = 1e-8
_UNDERFLOW = 1e-280


def _scalar(out: object, what: str) -> complex | float:
    """The loss value as a Python float (or complex), or a GradientInputError saying what f returned."""
    if isinstance(out, bool | np.bool_) or out is None or type(out).__module__.split(".")[0] == "sympy":
        raise GradientTypeError(f"{what} returned {out!r}; f must return the loss as a float.")
    if isinstance(out, np.ndarray):
        if out.size != 1:
            raise GradientInputError(
                f"{what} returned an array of shape {out.shape}; f must return one number, the loss "
                "(did you forget to average or sum over the examples?)."
            )
        out = out.reshape(()).item()
    if isinstance(out, np.generic):
        out = out.item()
    if isinstance(out, complex):
        return out
    if isinstance(out, numbers.Real) and not isinstance(out, bool):
        return float(out)
    raise GradientTypeError(f"{what} returned a {type(out).__name__}; f must return the loss as a float.")


class LossFunction:
    """``f`` wrapped: counts evaluations, checks that each one returns a finite real number."""

    def __init__(self, f: Callable[[Any], Any], layout: Layout) -> None:
        if not callable(f):
            raise GradientTypeError(f"f must be a function of the parameters returning the loss, got {f!r}.")
        self.f = f
        self.layout = layout
        self.real_calls = 0
        self.complex_calls = 0

    @property
    def calls(self) -> int:
        """All evaluations of ``f`` so far, real and complex."""
        return self.real_calls + self.complex_calls

    def real(self, theta: np.ndarray, where: str | Callable[[], str]) -> float:
        """$f(\\theta)$ for real $\\theta$; ``where`` describes the point for error messages."""
        self.real_calls += 1
        value = _scalar(self.f(self.layout.build(theta)), "f")
        if isinstance(value, complex):
            where = where() if callable(where) else where
            raise GradientInputError(f"f returned the complex number {value!r} for real parameters {where}.")
        if not math.isfinite(value):
            where = where() if callable(where) else where
            raise NonFiniteInputError(
                f"the loss f is {value} {where}: its gradient cannot be checked at a point where the loss, "
                "or the loss right next to it, is not a finite number; choose another test point."
            )
        return value

    def real_at_start(self, theta: np.ndarray) -> float:
        """$f(\\theta)$ at the test point, also checking that ``f`` leaves its argument unchanged."""
        params = self.layout.build_copy(theta)
        self.real_calls += 1
        value = _scalar(self.f(params), "f")
        if isinstance(value, complex):
            raise GradientInputError(f"f returned the complex number {value!r} for real parameters.")
        if not math.isfinite(value):
            raise NonFiniteInputError(
                f"the loss f(params) is {value} at the test point: a NaN or inf loss has no gradient to "
                "check; choose a test point where the loss is finite (compute -log σ(z) from the logit)."
            )
        after = self.layout.flatten(
            [np.asarray(v, dtype=np.float64) for v in (params.values() if self.layout.is_dict else [params])]
        )
        if not np.array_equal(after, theta):
            raise GradientInputError(
                "f changed the parameters it was given (an in-place write such as W += ...): a loss function "
                "must only read its parameters, or every numerical derivative after it is wrong."
            )
        return value

    def complex(self, theta_c: np.ndarray) -> complex:
        """$f$ at a complex point; ComplexWarning (a complex value written into a float array) is an error."""
        self.complex_calls += 1
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            out = self.f(self.layout.build(theta_c))
        if isinstance(out, np.ndarray) and out.size == 1 and np.iscomplexobj(out):
            return complex(out.reshape(()).item())
        if isinstance(out, complex | np.complexfloating):
            return complex(out)
        raise NotComplexSafeError(
            f"f returned a real {type(out).__name__} for a complex input: the forward pass drops the "
            "imaginary part (abs, max, .real, float(), or writing into a float array)."
        )


@dataclass(frozen=True)
class Refined:
    """An entry (or direction) re-measured with two central steps."""

    value: float  # Richardson extrapolation R = (r² D2 - D1) / (r² - 1)
    error: float  # estimated error |D1 - D2| / (r² - 1)
    kink: bool  # the one-sided slopes differ by an amount that does not shrink with the step
    left: float  # one-sided slope (f(θ) - f(θ - h/2)) / (h/2)
    right: float  # one-sided slope (f(θ + h/2) - f(θ)) / (h/2)
    step: float  # the smaller step h/2
    first: float  # the plain central difference D1 at step h


class Line:
    """The loss along one coordinate (exact steps) or one direction: ``s -> f(θ + s·w)``."""

    def __init__(
        self,
        loss: LossFunction,
        theta: np.ndarray,
        label: Callable[[], str],
        index: int | None = None,
        direction: np.ndarray | None = None,
        work: np.ndarray | None = None,
    ) -> None:
        self.loss, self.theta, self.label, self.index, self.direction = loss, theta, label, index, direction
        # for a coordinate, one entry of a shared copy of theta is moved and restored around each call
        self.work = work if work is not None or index is None else np.array(theta, copy=True)

    def step(self, h: float) -> float:
        """The displacement actually taken for a requested ``h`` (exactly representable for a coordinate)."""
        if self.index is None:
            return h
        x = self.theta[self.index]
        return float((x + h) - x)

    def value(self, s: float) -> float:
        if self.index is None:
            point = self.theta + s * self.direction
            return self.loss.real(
                point, lambda: f"when the parameters are moved by {s:.3g} along a random direction"
            )
        x = float(self.theta[self.index])
        self.work[self.index] = x + s
        try:
            return self.loss.real(
                self.work,
                lambda: f"when {self.label()} is moved from {format_value(x)} to {format_value(x + s)}",
            )
        finally:
            self.work[self.index] = x

    def central(self, h: float) -> tuple[float, float, float, float, float]:
        """(D, f(+), f(-), s+, s-): the central difference at step ``h``."""
        sp, sm = self.step(h), self.step(-h)
        fp, fm = self.value(sp), self.value(sm)
        return (fp - fm) / (sp - sm), fp, fm, sp, sm

    def refine(
        self, f0: float, h: float, first: tuple[float, float, float, float, float] | None, loss_max: float
    ) -> tuple[Refined, float]:
        """Richardson at ``h`` and ``h/2`` plus the kink test; also returns the largest |f| seen."""
        d1, fp, fm, sp, sm = first if first is not None else self.central(h)
        d2, fp2, fm2, sp2, sm2 = self.central(h / 2)
        r2 = ((sp - sm) / (sp2 - sm2)) ** 2
        value = (r2 * d2 - d1) / (r2 - 1.0)
        error = abs(d1 - d2) / (r2 - 1.0)
        right1, left1 = (fp - f0) / sp, (f0 - fm) / (-sm)
        right2, left2 = (fp2 - f0) / sp2, (f0 - fm2) / (-sm2)
        jump1, jump2 = right1 - left1, right2 - left2
        loss_max = max(loss_max, abs(fp), abs(fm), abs(fp2), abs(fm2), abs(f0))
        noise = 40.0 * EPS * loss_max / sp2
        kink = abs(jump2) > 0.6 * abs(jump1) and abs(jump2) > noise
        return Refined(value, error, bool(kink), left2, right2, sp2, d1), loss_max


class Reference:
    """Numerical derivatives of ``f`` at ``theta``, entry by entry, computed on demand.

    ``values[i]`` and ``steps[i]`` are NaN until :meth:`compute` has visited entry ``i``;
    :meth:`refine` re-measures one entry with Richardson extrapolation and the kink test.
    """

    def __init__(
        self, loss: LossFunction, theta: np.ndarray, method: str, f0: float | None = None, note: str = ""
    ) -> None:
        if method not in ("complex", "central"):
            raise ValueError(f"method must be 'complex' or 'central', got {method!r}")
        self.loss, self.theta, self.method, self.note = loss, theta, method, note
        self.values = np.full(theta.size, np.nan)
        self.steps = np.full(theta.size, np.nan)
        self._f0 = f0
        self.loss_max = abs(f0) if f0 is not None else 0.0
        self._first: dict[int, tuple[float, float, float, float, float]] = {}
        self._refined: dict[int, Refined] = {}
        self._work: np.ndarray | None = None

    @property
    def f0(self) -> float:
        """$f(\\theta)$ from a real evaluation (made at most once)."""
        if self._f0 is None:
            self._f0 = self.loss.real_at_start(self.theta)
            self.loss_max = max(self.loss_max, abs(self._f0))
        return self._f0

    def label(self, i: int) -> str:
        k, index = self.loss.layout.locate(i)
        return self.loss.layout.label(k, index)

    def _line(self, i: int) -> Line:
        if self._work is None:
            self._work = np.array(self.theta, copy=True)
        return Line(self.loss, self.theta, lambda: self.label(i), index=i, work=self._work)

    def central_step(self, i: int) -> float:
        return CENTRAL_STEP * max(1.0, abs(float(self.theta[i])))

    def compute(self, indices: np.ndarray) -> None:
        """Fill ``values`` at ``indices`` not computed yet (1 complex or 2 real evaluations each)."""
        indices = np.asarray(indices, dtype=np.int64)
        indices = indices[np.isnan(self.values[indices])]
        if self.method == "central":
            _ = self.f0  # the round-off term and the kink test need f(θ)
            for i in indices:
                i = int(i)
                first = self._line(i).central(self.central_step(i))
                self._first[i] = first
                d, fp, fm, sp, sm = first
                self.values[i] = d
                self.steps[i] = (sp - sm) / 2
                self.loss_max = max(self.loss_max, abs(fp), abs(fm))
            return
        work = self.theta.astype(np.complex128)
        for i in indices:
            i = int(i)
            x = float(self.theta[i])
            for h in (COMPLEX_STEP, COMPLEX_FALLBACK_STEP * max(1.0, abs(x))):
                work[i] = complex(x, h)
                try:
                    out = self.loss.complex(work)
                except NotComplexSafeError:
                    raise
                except Exception as exc:
                    raise NotComplexSafeError(
                        f"the complex step failed at {self.label(i)}: f raised {type(exc).__name__}: {exc}. "
                        "Use method='central' (or 'auto') for a loss that is not complex-safe."
                    ) from exc
                finally:
                    work[i] = x
                if not (math.isfinite(out.real) and math.isfinite(out.imag)):
                    raise NonFiniteInputError(
                        f"the loss f is {out} when the complex step is applied to {self.label(i)}: "
                        "choose a test point where the loss is finite."
                    )
                self.loss_max = max(self.loss_max, abs(out.real))
                self.values[i] = out.imag / h
                self.steps[i] = h
                if abs(out.imag) >= _UNDERFLOW:
                    break

    def refine(self, i: int) -> Refined:
        """Richardson extrapolation of central differences at entry ``i`` (2 or 4 real evaluations)."""
        if i not in self._refined:
            refined, self.loss_max = self._line(i).refine(
                self.f0, self.central_step(i), self._first.get(i), self.loss_max
            )
            self._refined[i] = refined
        return self._refined[i]

    def directional(self, w: np.ndarray) -> tuple[float, float]:
        """(derivative along ``w``, step used): $\\nabla f \\cdot w$, complex step or central."""
        if self.method == "complex":
            out = self.loss.complex(self.theta + 1j * COMPLEX_STEP * w)
            if not (math.isfinite(out.real) and math.isfinite(out.imag)):
                raise NonFiniteInputError(
                    f"the loss f is {out} under a complex step along a random direction."
                )
            return out.imag / COMPLEX_STEP, COMPLEX_STEP
        d, fp, fm, _, _ = Line(self.loss, self.theta, lambda: "a random direction", direction=w).central(
            CENTRAL_STEP
        )
        self.loss_max = max(self.loss_max, abs(fp), abs(fm), abs(self.f0))
        return d, CENTRAL_STEP

    def refine_directional(self, w: np.ndarray) -> Refined:
        """Richardson and kink test along ``w``."""
        line = Line(self.loss, self.theta, lambda: "a random direction", direction=w)
        refined, self.loss_max = line.refine(self.f0, CENTRAL_STEP, None, self.loss_max)
        return refined
