"""One number against the value a check expects: :func:`expect_close`, the test cells' plainest helper."""

from __future__ import annotations

import math

__all__ = ["expect_close"]


def expect_close(what: str, received: object, expected: float, hint: str = "") -> None:
    """Fail with the expected and received values (and a likely mistake) unless they agree to 1e-9.

    ``received`` must be a real number (``int`` or ``float``; a NaN or inf never passes):
    |received − expected| ≤ 1e-9·|expected| + 1e-12.
    """
    ok = (
        isinstance(received, int | float)
        and not isinstance(received, bool)
        and math.isfinite(received)
        and math.isclose(received, expected, rel_tol=1e-9, abs_tol=1e-12)
    )
    message = f"{what}: expected {expected:.10g}, received {received!r}."
    assert ok, message + (f" Likely mistake: {hint}" if hint else "")
