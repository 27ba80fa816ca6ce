"""Switch off course_lib's automatic and numerical differentiation while a student's code runs.

A graded exercise asks for a *hand-written* backward pass. A test wraps the student's function in
:func:`hand_written_only`; inside it, :meth:`course_lib.graph.Node.backward`, path sums and the
numerical gradient helpers raise :class:`AutodiffDisabledError` with a message that says why::

    with hand_written_only("backward_sigmoid_chain"):
        grads = backward_sigmoid_chain(x, w1, w2, w3)
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

__all__ = ["AnswerUnavailable", "AutodiffDisabledError", "ensure_allowed", "graded_answers", "hand_written_only",
           "is_disabled", "unavailable"]

_active: list[str] = []


class AutodiffDisabledError(RuntimeError):
    """Raised when a graded function calls course_lib's automatic or numerical gradients."""


class AnswerUnavailable(AutodiffDisabledError):
    """Raised while a notebook is graded: the tool needs a graded exercise's answer, which the grader leaves out.

    The grading sandbox holds a course_lib without :mod:`course_lib.answers`; the teaching guard
    (:func:`hand_written_only`) only applies in a student's own copy.
    """


_loaded: dict[str, ModuleType | None] = {}


def graded_answers(module: str, tool: str = "this course_lib tool") -> ModuleType:
    """``course_lib.answers.<module>``, or :class:`AnswerUnavailable` where it is left out (while graded).

    The outcome is remembered: a missing package is looked for once per process.
    """
    if module not in _loaded:
        try:
            _loaded[module] = importlib.import_module(f"course_lib.answers.{module}")
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("course_lib.answers"):
                raise
            _loaded[module] = None
    found = _loaded[module]
    if found is None:
        raise unavailable(tool)
    return found


def unavailable(tool: str) -> AnswerUnavailable:
    """The error that says ``tool`` is left out while a notebook is graded (see :func:`graded_answers`)."""
    return AnswerUnavailable(
        f"{tool} is not available while your notebook is graded: it computes what a graded exercise asks "
        "you to write (a derivative, a backward pass, θ as a vector or a training step), so the grader "
        "leaves it out. Your own functions are graded; this works again in JupyterLab."
    )


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
