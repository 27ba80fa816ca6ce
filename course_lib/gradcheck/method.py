r"""Which numerical method, and the numerical gradient itself.

A complex-safety **probe** decides between the complex step and central differences
(:mod:`~course_lib.gradcheck.reference`): ``f`` must accept a complex input, return a complex number whose
real part is $f(\theta)$, and its complex-step derivative along a random direction must agree with central
differences along that direction. ``abs``, ``max``, comparisons, ``.real``, ``float()`` or in-place writes
into float arrays all fail one of these.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from course_lib import guard
from course_lib.gradcheck.inputs import GradientInputError, NotComplexSafeError, parse_params
from course_lib.gradcheck.reference import CENTRAL_STEP, COMPLEX_STEP, Line, LossFunction, Reference
from course_lib.gradcheck.tolerance import EPS

__all__ = ["METHODS", "ProbeResult", "choose_method", "numerical_gradient", "probe_complex_safety"]

METHODS = ("auto", "complex", "central", "richardson")


@dataclass(frozen=True)
class ProbeResult:
    """Whether the complex step can be trusted for ``f``, and why not."""

    safe: bool
    reason: str
    f0: float


def probe_complex_safety(loss: LossFunction, theta: np.ndarray, rng: np.random.Generator) -> ProbeResult:
    r"""Decide whether ``f`` is complex-safe at ``theta``.

    With a random direction $w$ ($w_i = z_i \max(1, |\theta_i|)$, $z \sim N(0, 1)$): $f(\theta + i h w)$
    must be complex, its real part must equal $f(\theta)$ and $\operatorname{Im} f(\theta + ihw)/h$ must
    match the central difference along $w$ (refined by Richardson when the first comparison is close).
    Costs 1 complex and 3 real evaluations (5 when refined).
    """
    w = rng.standard_normal(theta.size) * np.maximum(1.0, np.abs(theta))
    try:
        out = loss.complex(theta + 1j * COMPLEX_STEP * w)
    except NotComplexSafeError:
        reason = "it returns a real number for a complex input, so abs, max, .real or float() "
        reason += "drop the imaginary part"
        return ProbeResult(False, reason, loss.real_at_start(theta))
    except np.exceptions.ComplexWarning:
        reason = "it casts complex numbers to float, which drops the imaginary part"
        return ProbeResult(False, reason, loss.real_at_start(theta))
    except Exception as exc:  # noqa: BLE001 - any failure on complex input means: not complex-safe
        return ProbeResult(
            False, f"it raises {type(exc).__name__} on a complex input", loss.real_at_start(theta)
        )
    f0 = loss.real_at_start(theta)
    if not (math.isfinite(out.real) and math.isfinite(out.imag)):
        return ProbeResult(False, "it returns a non-finite value for a complex input", f0)
    if abs(out.real - f0) > 1e-8 * abs(f0) + 1e-300:
        return ProbeResult(False, "the real part of its complex result differs from f(params)", f0)
    dc = out.imag / COMPLEX_STEP
    line = Line(loss, theta, lambda: "a random direction", direction=w)
    first = line.central(CENTRAL_STEP)
    loss_max = max(abs(f0), abs(first[1]), abs(first[2]))
    d1 = first[0]
    if abs(dc - d1) <= 1e-6 * abs(d1) + 10 * EPS * loss_max / CENTRAL_STEP:
        return ProbeResult(True, "", f0)
    refined, loss_max = line.refine(f0, CENTRAL_STEP, first, loss_max)
    bound = 1e-6 * abs(refined.value) + 20 * EPS * loss_max / refined.step + 4 * refined.error
    if not refined.kink and abs(dc - refined.value) <= bound:
        return ProbeResult(True, "", f0)
    return ProbeResult(
        False,
        "its complex-step derivative disagrees with central differences (abs, max or a comparison in f)",
        f0,
    )


def choose_method(
    loss: LossFunction, theta: np.ndarray, method: str, rng: np.random.Generator
) -> tuple[str, str, float | None]:
    """Resolve ``method`` to ``"complex"`` or ``"central"``: (method, note for the report, f(θ) or None)."""
    if method not in METHODS:
        raise GradientInputError(
            f"method must be one of {', '.join(repr(m) for m in METHODS)}, got {method!r}"
        )
    if method == "auto":
        probe = probe_complex_safety(loss, theta, rng)
        if probe.safe:
            return "complex", "f passed the complex-safety probe", probe.f0
        return "central", f"f is not complex-safe: {probe.reason}", probe.f0
    if method == "complex":
        return "complex", "requested", None
    return "central", "requested", None


def numerical_gradient(f: Callable[[Any], float], params: Any, method: str = "auto", *, seed: int = 0) -> Any:
    r"""The numerical gradient of the loss ``f`` at ``params``, shaped like ``params``.

    ``method``:

    * ``"complex"``: $\operatorname{Im} f(\theta + i h e_i)/h$, $h = 10^{-20}$ (P evaluations, about
      $10^{-16}$ relative; ``f`` must be complex-safe, else :class:`NotComplexSafeError`);
    * ``"central"``: $(f(\theta + h_i e_i) - f(\theta - h_i e_i)) / 2h_i$ with
      $h_i = \varepsilon^{1/3}\max(1,|\theta_i|)$ (2P+1 evaluations, about $10^{-10}$ relative);
    * ``"richardson"``: $(4 D(h/2) - D(h))/3$ from two central steps (4P+1 evaluations, about $10^{-11}$);
    * ``"auto"`` (default): the complex step if ``f`` passes a complex-safety probe (seeded by ``seed``),
      central differences otherwise.

    Not available inside :func:`course_lib.guard.hand_written_only`: a graded backward pass must be
    written by hand.
    """
    guard.ensure_allowed("course_lib.gradcheck.numerical_gradient")
    layout, theta = parse_params(params)
    loss = LossFunction(f, layout)
    rng = np.random.default_rng(seed)
    richardson = method == "richardson"
    resolved, _, f0 = choose_method(loss, theta, "central" if richardson else method, rng)
    reference = Reference(loss, theta, resolved, f0=f0)
    everything = np.arange(theta.size)
    reference.compute(everything)
    values = reference.values
    if richardson:
        values = np.array([reference.refine(int(i)).value for i in everything])
    arrays = [values[layout.slice(k)].reshape(layout.shapes[k]) for k in range(len(layout.names))]
    out = [float(a) if layout.scalar[k] else a.copy() for k, a in enumerate(arrays)]
    return dict(zip(layout.names, out, strict=True)) if layout.is_dict else out[0]
