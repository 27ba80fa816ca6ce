"""What every course notebook's first cell needs: :func:`start` and the test helper :func:`expect_close`.

A notebook's setup cell is three lines::

    import numpy as np
    from course_lib.notebook import expect_close, start
    start("chain-rule")

so a reader meets the course's prose, not plumbing, when the notebook opens.
"""

from __future__ import annotations

import math
import warnings

from course_lib.gradcheck import set_context

__all__ = ["expect_close", "start"]


def start(context: str = "general") -> None:
    """Prepare a notebook's kernel: quiet the warnings a student should not have to read, set the checker's words.

    ``context`` names what the notebook has taught so far (``"chain-rule"``, ``"sigmoid-chain"``,
    ``"many-paths"``, ``"all-parameters"`` or ``"general"``): the gradient checker's advice uses only
    words from it (see :func:`course_lib.gradcheck.set_context`). Running it twice is harmless.
    """
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message="overflow encountered", category=RuntimeWarning)
    set_context(context)


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
