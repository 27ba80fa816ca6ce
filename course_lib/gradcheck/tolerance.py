r"""How far a hand-written gradient may be from the numerical reference, entry by entry.

For entry $i$ with analytic value $a_i$ and numerical reference $n_i$ the check passes when

$$|a_i - n_i| \le r\,|n_i| + \max\Big(\alpha \max_j |n_j|,\; c\,\frac{\varepsilon\,L_{\max}}{h_i}\Big) + t$$

* $r$ (``rtol``): relative term, ``1e-6`` with the complex step, ``1e-5`` with central differences;
* $\alpha$ (``atol_rel``, default ``1e-8``): scale-aware term, relative to the largest gradient entry of the
  whole model, so that tiny entries are not judged purely relatively (a purely relative rule false-fails
  saturated units; a fixed absolute one misses bugs in tensors whose gradients are small);
* $c\,\varepsilon L_{\max}/h_i$ (central differences only, $c = 10$): the round-off of a difference of two
  loss values of size $L_{\max}$ divided by the step $h_i$ (with the complex step this term is
  $10^{-30}\max(1, L_{\max})$ instead: its truncation error $h^2|f'''|/6$ at $h = 10^{-20}$);
* $t$ (``atol``, default 0): an optional absolute floor.

A NaN or inf on either side never passes. An entry outside this tolerance is re-measured with Richardson
extrapolation; it only *fails* when it is also farther than ``band`` times the reference's own error
estimate, otherwise it is *inconclusive* (see :mod:`course_lib.gradcheck.reference`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EPS", "Tolerance"]

EPS = float(np.finfo(np.float64).eps)
COMPLEX_FLOOR = 1e-30


@dataclass(frozen=True)
class Tolerance:
    """The constants of the per-entry rule above."""

    rtol: float | None = None
    atol_rel: float = 1e-8
    atol: float = 0.0
    roundoff: float = 10.0
    band: float = 4.0

    def __post_init__(self) -> None:
        for field in ("atol_rel", "atol", "roundoff", "band"):
            value = getattr(self, field)
            if not (isinstance(value, int | float) and np.isfinite(value) and value >= 0):
                raise ValueError(f"tolerance option {field} must be a finite number >= 0, got {value!r}")
        if self.rtol is not None and not (isinstance(self.rtol, int | float) and 0 <= self.rtol < 1):
            raise ValueError(f"rtol must be a number in [0, 1) or None, got {self.rtol!r}")

    def relative(self, method: str) -> float:
        """The relative term $r$ for ``method`` (``"complex"`` or ``"central"``)."""
        if self.rtol is not None:
            return float(self.rtol)
        return 1e-6 if method == "complex" else 1e-5

    def per_entry(
        self,
        numeric: np.ndarray,
        scale: float,
        method: str,
        steps: np.ndarray | float,
        loss_max: float,
        size: float = 1.0,
    ) -> np.ndarray:
        r"""$r|n_i| + \max(\alpha\,\mathrm{scale},\ c\,\varepsilon L_{\max}/h_i) + t$ for every entry.

        ``scale`` is $\max_j |n_j|$ over the model; ``steps`` are the central-difference steps $h_i$
        (ignored for the complex step, which subtracts nothing and so has no round-off term). For a
        directional derivative along $w$, ``size`` is $\sum_i |w_i|$: the scale-aware and absolute terms
        grow with it.
        """
        numeric = np.asarray(numeric, dtype=np.float64)
        floor = np.full(numeric.shape, self.atol_rel * scale * size)
        if method == "complex":
            # the complex step's truncation error h²|f'''|/6 (h = 1e-20) only matters when everything is ~0
            floor = np.maximum(floor, COMPLEX_FLOOR * max(1.0, loss_max))
        else:
            floor = np.maximum(floor, self.roundoff * EPS * loss_max / np.asarray(steps, dtype=np.float64))
        return self.relative(method) * np.abs(numeric) + floor + self.atol * size
