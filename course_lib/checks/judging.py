"""Judge one exercise at a time: a mistake costs points once, in the exercise where it lives.

For the notebooks' test cells. Exercise 2.3's ``grad_w1`` calls the student's ``forward_chain`` (2.1) and
``local_derivatives`` (2.2); if either is wrong, 2.3 would fail too although its own code is right. A test
cell therefore runs its checks inside :func:`judge_alone`, which replaces the *other* exercises' functions
in the notebook's namespace by reference implementations for the duration of the block and puts the
student's own functions back afterwards (also after a failure)::

    ### BEGIN HIDDEN TESTS
    use_references(globals(), forward_chain=reference_forward, local_derivatives=reference_local)
    ### END HIDDEN TESTS
    with judge_alone(globals(), "grad_w1", {"forward_chain": ("Exercise 2.1", forward_self_check)}):
        check_one_weight(grad_w1, "w1", x, w)

The references are graded answers, so they live only in the test cell's hidden part (never in
``course_lib``, never in a released cell): :func:`use_references` registers them there. A released
notebook has none, so a student's own self-check runs with the student's own functions; when it fails and
one of them is wrong, the message says which exercise to fix first (the grader judges this exercise with
the references, so that mistake costs no points here).

A student function calls the others by name, so the replacement reaches calls made *inside* the student's
code as well. The grader's independent re-check (``autograder.isolation.verify``) forwards the replacements into the
student's process for the duration of each call, so the isolation is the same in both runs.

:func:`hidden_case` names a failing hidden case without showing the hidden test's code or values, and
:class:`RightGivenYours` lets a check say "your update is right for your gradients; fix Exercise 2.3 first".
Without references the block's failure becomes one of two verdicts that ``backprop-course check`` reads from the
cell's error: :class:`OwnCodeRight` (this exercise's code is right for your functions: the grader, which runs it
with the notes' functions, gives its points) or :class:`NotJudgedYet` (it cannot be judged until the other
exercise is fixed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

__all__ = [
    "REGISTRY_NAME",
    "NotJudgedYet",
    "OwnCodeRight",
    "RightGivenYours",
    "hidden_case",
    "judge_alone",
    "use_references",
]

#: The namespace entry in which :func:`use_references` keeps the current test cell's references.
REGISTRY_NAME = "__course_references__"

_MISSING = object()


class RightGivenYours(AssertionError):  # named to read as a sentence: "right, given yours"
    """A check's verdict "this exercise's own code is right for what your other functions return".

    Raised by a test helper when the exercise's result is wrong, but equals what its formula gives from the
    values the student's *own* other functions return (for example, the update is right but the gradients
    are not). Inside :func:`judge_alone`, with a wrong dependency, the message then says so: "your update
    is right …; but your grad_w1 (Exercise 2.3) is wrong".
    """


class NotJudgedYet(AssertionError):
    """:func:`judge_alone`'s verdict without references: this exercise cannot be judged on its own yet.

    Raised in a student's copy (no hidden references) when the block fails while a function it calls is
    wrong: the failure may be the other exercise's fault. ``backprop-course check`` shows the exercise as
    "not judged yet", never as 0; the grader, which has the references, judges it.
    """


class OwnCodeRight(AssertionError):
    """:func:`judge_alone`'s verdict without references: this exercise's own code is right for your functions.

    Raised when a check said :class:`RightGivenYours` while a function the exercise calls is wrong. The cell
    still fails in the student's copy (so nbgrader's rule, an error scores 0, holds there); ``backprop-course
    check`` reads the verdict and predicts the grader's score: full points, as the grader runs this code with
    the notes' own functions.
    """


def use_references(namespace: MutableMapping[str, Any], **references: Callable[..., Any]) -> None:
    """Register reference implementations for the :func:`judge_alone` blocks that follow (hidden part only).

    ``namespace`` is the notebook's ``globals()``; each keyword names a graded function (``forward_chain``)
    and gives its reference. A new call replaces the earlier registration entirely, so every test cell
    registers the references it needs itself.
    """
    bad = [name for name, fn in references.items() if not callable(fn)]
    if bad:
        raise TypeError(f"use_references: the reference for {', '.join(bad)} is not a function")
    namespace[REGISTRY_NAME] = dict(references)


@contextmanager
def judge_alone(
    namespace: MutableMapping[str, Any],
    exercise: str,
    depends_on: Mapping[str, tuple[str, Callable[[], object]]],
) -> Iterator[None]:
    """Run the ``with`` block with the functions ``exercise`` depends on replaced by their references.

    ``depends_on`` maps each function the exercise calls to ``(where it is written, self_check)``, e.g.
    ``{"forward_chain": ("Exercise 2.1", lambda: check_forward_chain(1.0, W))}``; ``self_check`` raises if
    the student's function is wrong. Functions with a registered reference (:func:`use_references`) are
    replaced inside the block and restored afterwards. If the block fails while some dependency had no
    reference (a student's own notebook), the self-checks of those dependencies run, and a wrong one turns
    the failure into "fix Exercise 2.1 first".
    """
    references = namespace.get(REGISTRY_NAME) or {}
    swapped = {name: references[name] for name in depends_on if name in references}
    saved = {name: namespace.get(name, _MISSING) for name in swapped}
    namespace.update(swapped)
    try:
        yield
    except Exception as exc:
        _restore(namespace, saved)
        saved = {}
        if isinstance(exc, NotImplementedError) and _raised_in(exc, exercise):
            raise  # this exercise is not answered yet: that is the message
        unchecked = [name for name in depends_on if name not in swapped]
        wrong = _wrong_dependencies(depends_on, unchecked)
        if not wrong:
            raise
        name, where, why = wrong[0]
        others = "".join(f" Your {n} ({w}) is wrong too." for n, w, _ in wrong[1:])
        verdict: type[AssertionError]
        if isinstance(exc, RightGivenYours):
            verdict = OwnCodeRight
            head = f"{exercise}: {str(exc).strip().rstrip('.')}; but your {name} ({where}) is wrong: "
        else:  # the block's own message is left out: computed with a wrong dependency, its advice may be false
            verdict = NotJudgedYet
            head = f"{exercise} cannot be judged on its own yet: it calls your {name} ({where}), which is wrong: "
        raise verdict(
            f"{head}{why.rstrip('.')}.{others} Fix {where} first, then run this check again. (The grader judges "
            f"{exercise} with the notes' own {name}, so that mistake costs points in {where} only.)"
        ) from None
    finally:
        _restore(namespace, saved)


def _raised_in(exc: BaseException, function: str) -> bool:
    """True if ``exc`` was raised in a function named ``function`` (not in one that it calls)."""
    tb = exc.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_name == function


def _restore(namespace: MutableMapping[str, Any], saved: Mapping[str, Any]) -> None:
    for name, value in saved.items():
        if value is _MISSING:
            namespace.pop(name, None)
        else:
            namespace[name] = value


def _wrong_dependencies(
    depends_on: Mapping[str, tuple[str, Callable[[], object]]], names: list[str]
) -> list[tuple[str, str, str]]:
    wrong = []
    for name in names:
        where, self_check = depends_on[name]
        try:
            self_check()
        except NotImplementedError as exc:
            why = ("it is not written yet (it still raises NotImplementedError)" if _raised_in(exc, name)
                   else "it calls a function that is not written yet (NotImplementedError)")
            wrong.append((name, where, why))
        except Exception as exc:  # noqa: BLE001 - the student's function failed its own check (or raised)
            wrong.append((name, where, _first_line(exc)))
    return wrong


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {line}" if not isinstance(exc, AssertionError) or not line else line


#: A decimal number in a message (a hidden point, or a value computed there); "Exercise 2.3" is not one.
_VALUE = re.compile(r"(?<![\w.])(?<!Exercise )[-+]?\d+\.\d+(?:[eE][-+]?\d+)?(?!\w)(?!\.\d)")


@contextmanager
def hidden_case(description: str) -> Iterator[None]:
    """Name a hidden case: a failure inside the block becomes "Hidden case failed: <description>. <why>".

    ``why`` is the check's own explanation (the likely mistake, the checker's diagnosis) with every decimal
    value replaced by "…", and the original traceback is dropped: the message names the case and what
    went wrong without showing the hidden test's code or values.
    """
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - any error in a hidden test: a message hiding its code
        if isinstance(exc, AssertionError):
            why = str(exc).strip() or "a check failed"
        else:
            why = f"your code raised {type(exc).__name__}: {str(exc).strip()}"
        why = _VALUE.sub("…", why)
        raise AssertionError(
            f"Hidden case failed: {description}. {why}\n(Values at hidden points are not shown: run the visible "
            "checks above, or try the case yourself.)"
        ) from None
