"""The independent re-check: every test cell run again where student code cannot reach it.

In nbgrader, test cells run in the student's kernel, so an answer cell can monkeypatch ``np.allclose``,
the checker or builtins and pass every test. Here the verdict comes from a second run:

* the **student host** (:mod:`autograder.isolation.student_host`, in the sandbox) runs the submission's own cells
  and then only answers calls — "call ``grad_w1`` with these numbers" — with plain data;
* the **verifier** (this module, in the grader) runs the *source* notebook's trusted cells — setup and
  test cells, hidden tests included — in a namespace where each graded name (a function the source's
  answer cells define) is a stand-in that forwards calls to the host.

The checker, numpy and course_lib the tests use live in the verifier, where no student code ever runs, so
nothing the submission patches can change a verdict. A cell the verifier fails keeps at most the
verifier's score; if nbgrader gave it more, the submission is flagged. A cell the verifier cannot check
(the test hands the function something that cannot travel as data) scores 0 and is marked
``unverifiable``: the grader then asks the instructor to look; the kernel's score is never trusted.

:func:`visible_messages` runs only the *visible* part of each test cell (hidden regions removed) in a
fresh student host, before any process has seen a hidden test or its inputs: its verdicts are what the
student's feedback shows (:mod:`autograder.grading.feedback`), so no hidden code, input or expected value
can reach a student through their own function's return values or messages.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import select
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from autograder.isolation.wire import WireError, decode, encode, read_frame, write_frame
from autograder.notebook.cells import BEGIN_HIDDEN, END_HIDDEN, MarkerError, is_answer, is_test, meta, replace_regions
from autograder.notebook.dependencies import needed_cells, strip_magics

__all__ = ["CellVerdict", "HostFailure", "graded_names", "needed_cells", "not_rechecked", "verify_notebook",
           "visible_messages"]


class HostFailure(RuntimeError):
    """The student's process died, hung, or broke the protocol."""


@dataclass(frozen=True)
class CellVerdict:
    """The re-check of one test cell."""

    grade_id: str
    score: float
    max_score: float
    message: str = ""
    unverifiable: bool = False  # the test could not be re-run (scored 0; the instructor must look)


def graded_names(source_nb: nbformat.NotebookNode) -> list[str]:
    """Names the source's answer cells define at top level (functions and variables), in order."""
    names: list[str] = []
    for cell in filter(is_answer, source_nb.cells):
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            targets: list[ast.expr] = []
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.append(node.name)
            elif isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign):
                targets = [node.target]
            for t in targets:
                names += [n.id for n in ast.walk(t) if isinstance(n, ast.Name)]
    return list(dict.fromkeys(names))


_EXCEPTIONS: dict[str, type[BaseException]] = {
    e.__name__: e
    for e in (AssertionError, ValueError, TypeError, KeyError, IndexError, ZeroDivisionError, NotImplementedError,
              NameError, AttributeError, RuntimeError, OverflowError, FloatingPointError, TimeoutError,
              RecursionError, ArithmeticError, LookupError)
}


class _Host:
    """The connection to one student host process."""

    def __init__(self, command: list[str], env: dict[str, str] | None, timeout: float) -> None:
        to_host_r, self.to_host = os.pipe()
        self.from_host, from_host_w = os.pipe()
        self.timeout = timeout
        self.proc = subprocess.Popen(
            [*command, str(to_host_r), str(from_host_w)], pass_fds=(to_host_r, from_host_w), env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        os.close(to_host_r)
        os.close(from_host_w)
        self.callables: dict[int, Any] = {}

    def send(self, message: dict) -> None:
        try:
            write_frame(self.to_host, message)
        except (BrokenPipeError, OSError) as exc:
            raise HostFailure(f"the submission's process stopped ({exc.__class__.__name__})") from None

    def receive(self, timeout: float | None = None) -> dict:
        ready, _, _ = select.select([self.from_host], [], [], timeout or self.timeout)
        if not ready:
            raise HostFailure(f"the submission's code did not answer within {timeout or self.timeout:g} s")
        try:
            return read_frame(self.from_host)
        except EOFError:
            raise HostFailure("the submission's process ended (os._exit, a crash or a resource limit)") from None
        except WireError as exc:
            raise HostFailure(f"the submission's process sent something unreadable: {exc}") from None

    def call(self, message: dict) -> Any:
        self.send(message)
        while True:
            reply = self.receive()
            op = reply.get("op")
            if op == "result":
                try:
                    return decode(reply.get("value"))
                except WireError as exc:  # the student's value: the test fails, the re-check goes on
                    raise TypeError(f"the function returned a value that cannot be checked ({exc})") from None
            if op == "error":
                exc_type = _EXCEPTIONS.get(str(reply.get("type")))
                if exc_type is None and reply.get("type") == "AutodiffDisabledError":
                    from course_lib.guard import AutodiffDisabledError as exc_type
                raise (exc_type or RuntimeError)(str(reply.get("message", "")))
            if op == "callback":
                self._serve_callback(reply)
                continue
            raise HostFailure(f"the submission's process sent an unexpected message {op!r}")

    def _serve_callback(self, request: dict) -> None:
        fn = self.callables.get(int(request.get("handle", -1)))
        try:
            if fn is None:
                raise HostFailure("the submission's process called back something it was never given")
            value = fn(*decode(request.get("args", [])), **decode(request.get("kwargs", {})))
            self.send({"op": "return", "value": encode(value, self.callables)})
        except HostFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - the submission's callback may raise anything
            self.send({"op": "raise", "message": f"{type(exc).__name__}: {exc}"})

    def close(self) -> None:
        with contextlib.suppress(HostFailure):
            self.send({"op": "bye"})
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.to_host, self.from_host):
            with contextlib.suppress(OSError):
                os.close(fd)


_ABSENT = object()  # a graded function the submission does not define (deleted, or its cell failed)


class _Remote:
    """A stand-in for the student's function ``name``: calls it in the host with plain data.

    A test cell may replace other graded functions in its namespace by reference implementations
    (``course_lib.isolation.judge_alone``); such replacements are forwarded with the call, so that the
    student's function calls the references by name in the host too, for the duration of this call.
    """

    def __init__(self, host: _Host, name: str, ns: dict[str, Any] | None = None,
                 originals: dict[str, Any] | None = None) -> None:
        self._host = host
        self._ns = ns if ns is not None else {}
        self._originals = originals if originals is not None else {}
        self.__name__ = self.__qualname__ = name

    def _replacements(self) -> dict[str, Any]:
        """Graded names the test has bound to a function of its own (never another student function)."""
        current = {n: self._ns.get(n, _ABSENT) for n in self._originals}
        return {n: v for n, v in current.items()
                if v is not self._originals[n] and callable(v) and not isinstance(v, _Remote)}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from course_lib import guard

        swap_handles: dict[int, Any] = {}
        try:
            message = {"op": "call", "name": self.__name__, "args": encode(list(args), self._host.callables),
                       "kwargs": encode(kwargs, self._host.callables)}
            replacements = self._replacements()
            if replacements:
                message["swap"] = encode(replacements, swap_handles)
        except WireError as exc:
            raise _Unverifiable(f"the test passes {exc} to {self.__name__}") from None
        if guard.is_disabled():
            message["guard"] = self.__name__
        self._host.callables.update(swap_handles)
        try:
            return self._host.call(message)
        finally:  # the references are usable by the student's code during this call only
            for handle in swap_handles:
                self._host.callables.pop(handle, None)

    def __repr__(self) -> str:
        return f"<student function {self.__name__}>"

    def __getattr__(self, attr: str) -> Any:
        # A test that inspects the function object itself (its code, globals...) cannot be re-run here.
        raise _Unverifiable(f"the test inspects {self.__name__}.{attr}")


class _Unverifiable(BaseException):
    """The test hands the student's function something that cannot be sent as data (never the student's doing).

    A BaseException, so that a test helper's ``except Exception`` (which turns a student's error into a
    message) cannot turn it into a failure: the cell is left to nbgrader's score instead (05's graph objects).
    """


def _cell_score(value: Any, points: float) -> float:
    """nbgrader's rule for a test cell that ran without error: a plain number in [0, points] is partial credit."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= points:
        return float(value)
    return points


def _run_trusted(code: str, ns: dict) -> Any:
    tree = ast.parse(strip_magics(code))
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body[-1].value)
        tree.body.pop()
    exec(compile(tree, "<test cell>", "exec"), ns)  # trusted code from the source notebook
    return eval(compile(last, "<test cell>", "eval"), ns) if last is not None else None


def _trusted_source(cell: Any, visible_only: bool) -> str:
    """A source test or setup cell's code; with ``visible_only``, each hidden region becomes ``pass``."""
    if not visible_only or BEGIN_HIDDEN not in cell.source:
        return cell.source
    try:
        return replace_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN, "pass")
    except MarkerError:  # a begin marker without its end: nothing from it on is visible
        return cell.source[: cell.source.index(BEGIN_HIDDEN)] + "pass"


def _run(
    source_path: Path,
    submission_path: Path,
    host_command: list[str] | None,
    host_env: dict[str, str] | None,
    cell_timeout: float,
    visible_only: bool,
) -> tuple[dict[str, CellVerdict], str]:
    source = nbformat.read(str(source_path), as_version=4)
    submission = nbformat.read(str(submission_path), as_version=4)
    tests = [c for c in source.cells if is_test(c)]
    if not tests:
        return {}, ""
    last_answer = max((i for i, c in enumerate(submission.cells) if is_answer(c)),
                      default=max((i for i, c in enumerate(submission.cells) if is_test(c)), default=-1))
    candidates = [c for i, c in enumerate(submission.cells)
                  if c.cell_type == "code" and not is_test(c) and i <= last_answer]
    keep = needed_cells([(not meta(c).get("locked"), c.source) for c in candidates])
    student_cells = [c.source for c, k in zip(candidates, keep, strict=True) if k]
    names = graded_names(source)
    command = host_command or [sys.executable, "-m", "autograder.isolation.student_host"]
    verdicts: dict[str, CellVerdict] = {}
    problem = ""
    host = _Host(command, host_env, cell_timeout)
    try:
        host.send({"op": "run", "cells": student_cells, "names": names, "cell_timeout": cell_timeout})
        ready = host.receive(timeout=cell_timeout * (len(student_cells) + 1) + 30)
        if ready.get("op") != "ready" or not isinstance(ready.get("names"), dict):
            raise HostFailure("the submission's process did not start properly")
        ns: dict[str, Any] = {"__name__": "__main__", "display": lambda *a, **k: None}
        originals: dict[str, Any] = {}
        for name, kind in ready["names"].items():
            if name in names and kind == "callable":
                ns[name] = originals[name] = _Remote(host, name, ns, originals)
            elif name in names and kind == "missing":
                originals[name] = _ABSENT  # a test may still put a reference in its place
            elif name in names and kind == "data":
                try:
                    ns[name] = host.call({"op": "get", "name": name})
                except Exception:  # noqa: BLE001 - a value that cannot be read: tests that use it fail
                    continue
        last_test = max(i for i, c in enumerate(source.cells) if is_test(c))
        trusted = [c for i, c in enumerate(source.cells) if i <= last_test and c.cell_type == "code"
                   and not is_answer(c)]
        code = [_trusted_source(c, visible_only) for c in trusted]
        keep = needed_cells([(is_test(c), src) for c, src in zip(trusted, code, strict=True)])
        for cell, src in ((c, s) for c, s, k in zip(trusted, code, keep, strict=True) if k):
            cell_meta = meta(cell)
            unverifiable = False
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                try:
                    value = _run_trusted(src, ns)
                    error = None
                except HostFailure:
                    raise
                except _Unverifiable as exc:
                    value, error, unverifiable = None, f"could not be checked automatically: {exc}", True
                except BaseException as exc:  # a failing test: any exception, like nbgrader
                    if isinstance(exc, KeyboardInterrupt | SystemExit):
                        raise
                    value, error = None, f"{type(exc).__name__}: {exc}"
            if is_test(cell):
                points = float(cell_meta.get("points", 0))
                score = 0.0 if error else _cell_score(value, points)
                verdicts[cell_meta["grade_id"]] = CellVerdict(cell_meta["grade_id"], score, points, error or "",
                                                              unverifiable)
    except HostFailure as exc:
        problem = str(exc)
    finally:
        host.close()
    if problem:
        for cell in tests:
            cell_meta = meta(cell)
            gid = cell_meta["grade_id"]
            verdicts.setdefault(gid, CellVerdict(gid, 0.0, float(cell_meta.get("points", 0)), problem))
    return verdicts, problem


def not_rechecked(source_path: Path) -> str:
    """Why the source notebook's instructor declared it outside the re-check ('' if it is not).

    A notebook whose graded functions take objects that cannot cross the data-only boundary (05's graphs
    of ``Value`` nodes) says so in its metadata: ``{"backprop_course": {"recheck": false, "why": "..."}}``.
    Its test cells keep nbgrader's score and the submission is flagged; an *undeclared* cell the re-check
    cannot judge still scores 0 (needs attention).
    """
    meta = nbformat.read(str(source_path), as_version=4).metadata.get("backprop_course") or {}
    if meta.get("recheck", True) is False:
        return str(meta.get("why") or "declared in the source notebook")
    return ""


def verify_notebook(
    source_path: Path,
    submission_path: Path,
    host_command: list[str] | None = None,
    host_env: dict[str, str] | None = None,
    cell_timeout: float = 30.0,
) -> tuple[dict[str, CellVerdict], str]:
    """Re-run ``source_path``'s test cells against the answers in ``submission_path``.

    ``host_command`` starts the student host (default: this Python, unsandboxed; the grader passes a
    sandboxed command). Returns the verdict per test cell and a problem description ('' if none): when
    the host fails, the cells not yet verified score 0. Every test cell gets a verdict; one that could not
    be checked scores 0 with ``unverifiable`` set. A notebook declared outside the re-check
    (:func:`not_rechecked`) gets no verdicts.
    """
    if not_rechecked(source_path):
        return {}, ""
    return _run(source_path, submission_path, host_command, host_env, cell_timeout, visible_only=False)


def visible_messages(
    source_path: Path,
    submission_path: Path,
    host_command: list[str] | None = None,
    host_env: dict[str, str] | None = None,
    cell_timeout: float = 30.0,
) -> tuple[dict[str, CellVerdict], str]:
    """The verdicts of the *visible* part of each test cell (hidden regions removed), for feedback.

    Run it before anything runs the hidden tests: its host is fresh and nothing the student's code could
    read knows a hidden test or input, so its messages (the checker's, or the student's own exceptions')
    can be shown to the student. A notebook declared outside the re-check gets none.
    """
    if not_rechecked(source_path):
        return {}, ""
    return _run(source_path, submission_path, host_command, host_env, cell_timeout, visible_only=True)
