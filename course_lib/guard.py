"""Switch off course_lib's automatic and numerical differentiation while a student's code runs.

A graded exercise asks for a *hand-written* backward pass. A test wraps the student's function in
:func:`hand_written_only`; inside it, :meth:`course_lib.graph.Node.backward`, path sums and the
numerical gradient helpers raise :class:`AutodiffDisabledError` with a message that says why::

    with hand_written_only("backward_sigmoid_chain"):
        grads = backward_sigmoid_chain(x, w1, w2, w3)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["AutodiffDisabledError", "ensure_allowed", "hand_written_only", "is_disabled"]

_active: list[str] = []


class AutodiffDisabledError(RuntimeError):
    """Raised when a graded function calls course_lib's automatic or numerical gradients."""


@contextmanager
def hand_written_only(exercise: str = "this exercise") -> Iterator[None]:
    """Disable ``Node.backward``, path sums and numerical gradients inside the ``with`` block.

    Nested use is allowed; the innermost exercise name appears in the error message.
    """
    _active.append(exercise)
    try:
        yield
    finally:
        _active.pop()


def is_disabled() -> bool:
    """True while inside :func:`hand_written_only`."""
    return bool(_active)


def ensure_allowed(tool: str) -> None:
    """Raise :class:`AutodiffDisabledError` if ``tool`` is called inside :func:`hand_written_only`.

    Every automatic or numerical differentiation entry point in course_lib calls this first.
    """
    if _active:
        raise AutodiffDisabledError(
            f"{tool} is switched off while {_active[-1]} runs: this exercise asks for a hand-written "
            "backward pass. Multiply the local derivatives yourself (the chain rule), using only the "
            "values your forward pass computed; course_lib's automatic and numerical gradients are for "
            "checking your answer outside the graded function, not for computing it."
        )
