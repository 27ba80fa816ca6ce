"""Judging outside the student's process: the grader's side of a submission's one sandboxed run.

In nbgrader, test cells run in the student's kernel, so an answer cell can monkeypatch ``np.allclose``,
the checker or builtins (or rebind the helpers a test calls, or emit a number as partial credit) and pass
every test. Here test cells never run in the student's process:

* the **student host** (:mod:`autograder.isolation.student_host`, in the sandbox) runs the submission's own
  cells and only answers calls — "call ``grad_w1`` with these numbers" — with plain data;
* the **verifier** (this module, in the grader) runs the *source* notebook's trusted cells — setup and
  test cells, hidden tests included — in a namespace where each graded name (a function the source's
  answer cells define) is a stand-in (:class:`Remote`) that forwards calls to the host.

The checker, numpy and course_lib the tests use live in the verifier, where no student code ever runs, so
nothing the submission patches can change a verdict. Graphs of the notebook's node class (05's ``Value``)
cross as data (:class:`autograder.isolation.wire.GraphCodec`). A test that hands the function something
that cannot travel as data is ``unverifiable``: it scores 0 and the instructor is asked to look.

Work the host starts in the verifier is bounded: a reference a test put in place of another graded
function (``course_lib.checks``) runs here when the student's code calls it, so each such call may carry
at most :data:`CALLBACK_NUMBERS` numbers and the calls of one test cell at most :data:`CALLBACK_SECONDS` of
the grader's CPU; past either, the call is refused and the test fails with a message saying so.
:mod:`autograder.isolation.session` drives one submission's run.
"""

from __future__ import annotations

import ast
import contextlib
import os
import select
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import nbformat

from autograder.isolation.wire import GraphCodec, WireError, count_numbers, decode, encode, read_frame, write_frame
from autograder.notebook.cells import BEGIN_HIDDEN, END_HIDDEN, MarkerError, is_answer, replace_regions
from autograder.notebook.dependencies import strip_magics

__all__ = ["CALLBACK_NUMBERS", "CALLBACK_SECONDS", "HOST_FRAME", "CellVerdict", "ChildEnded", "Host", "HostFailure",
           "ABSENT", "Remote", "Unverifiable", "cell_score", "graded_names", "run_trusted", "trusted_source"]

CALLBACK_NUMBERS = 5_000  # numbers (array entries, scalars, graph nodes) one reference call may carry
CALLBACK_SECONDS = 5.0  # grader CPU seconds the reference calls of one test cell may use
HOST_FRAME = 12 * 2**20  # the largest message the grader reads from a student's process


class HostFailure(RuntimeError):
    """The student's process died, hung, or broke the protocol."""


class ChildEnded(BaseException):
    """The process answering one test cell ended in the middle of it (os._exit, a crash, a resource limit).

    A BaseException, so that a test helper's ``except Exception`` cannot turn it into anything but a failure.
    """


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


class Host:
    """The connection to one student host process (:mod:`autograder.isolation.student_host`)."""

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
        self.refused = ""  # why a reference call of the current test cell was refused ('' if none)
        self.callback_seconds = 0.0  # grader CPU spent on the current test cell's reference calls
        self.ended = False  # the process serving the current test cell ended

    def start_cell(self) -> None:
        """Fresh budgets for the next test cell."""
        self.refused, self.callback_seconds, self.ended = "", 0.0, False

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
            return read_frame(self.from_host, HOST_FRAME)
        except EOFError:
            raise HostFailure("the submission's process ended (os._exit, a crash or a resource limit)") from None
        except WireError as exc:
            raise HostFailure(f"the submission's process sent something unreadable: {exc}") from None

    def call(self, message: dict, graph: GraphCodec | None = None) -> Any:
        if self.ended:
            raise ChildEnded()
        self.send(message)
        while True:
            started = time.process_time()  # a reference call's cost starts with reading it
            reply = self.receive()
            op = reply.get("op")
            if op == "ended":
                self.ended = True
                raise ChildEnded()
            try:
                if graph is not None and "graph" in reply:
                    graph.absorb(reply["graph"])
            except (WireError, TypeError, ValueError, AttributeError) as exc:
                raise TypeError(f"the function left a graph that cannot be checked ({exc})") from None
            if op == "result":
                try:
                    return decode(reply.get("value"), None, 0, graph)
                except WireError as exc:  # the student's value: the test fails, the check goes on
                    raise TypeError(f"the function returned a value that cannot be checked ({exc})") from None
            if op == "error":
                exc_type = _EXCEPTIONS.get(str(reply.get("type")))
                if exc_type is None and reply.get("type") == "AutodiffDisabledError":
                    from course_lib.guard import AutodiffDisabledError as exc_type
                raise (exc_type or RuntimeError)(str(reply.get("message", "")))
            if op == "callback":
                try:
                    self._serve_callback(reply, graph)
                finally:  # reading, checking, running and answering the call: all of it is the grader's CPU
                    self.callback_seconds += time.process_time() - started
                continue
            raise HostFailure(f"the submission's process sent an unexpected message {op!r}")

    def _refuse(self, why: str) -> None:
        self.refused = self.refused or why
        self.send({"op": "raise", "message": why})

    def _serve_callback(self, request: dict, graph: GraphCodec | None) -> None:
        """Run a reference the student's code called, within the budgets (:data:`CALLBACK_NUMBERS`, seconds)."""
        fn = self.callables.get(int(request.get("handle", -1)) if isinstance(request.get("handle"), int) else -1)
        if fn is None:
            raise HostFailure("the submission's process called back something it was never given")
        name = getattr(fn, "__name__", "a reference")
        section = request.get("graph") if graph is not None else None
        size = count_numbers([request.get("args"), request.get("kwargs"),
                              section.get("defs") if isinstance(section, dict) else None], CALLBACK_NUMBERS)
        if size > CALLBACK_NUMBERS:
            return self._refuse(f"refused by the grader: {name} was called with more than {CALLBACK_NUMBERS:,} "
                                "numbers (the grader runs the reference on at most that much data per call)")
        if self.callback_seconds > CALLBACK_SECONDS:
            return self._refuse(f"refused by the grader: the calls of {name} used more than {CALLBACK_SECONDS:g} s "
                                "of the grader's time in this test")
        try:
            if graph is not None and section is not None:
                graph.absorb(section)
            value = fn(*decode(request.get("args", []), None, 0, graph), **decode(request.get("kwargs", {}), None, 0,
                                                                                 graph))
            reply = {"op": "return", "value": encode(value, self.callables, 0, graph)}
            if graph is not None:
                reply["graph"] = graph.section()
        except HostFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - the submission's callback may raise anything
            reply = {"op": "raise", "message": f"{type(exc).__name__}: {exc}"}
            if graph is not None:
                with contextlib.suppress(Exception):
                    reply["graph"] = graph.section()
        self.send(reply)
        return None

    def close(self) -> None:
        with contextlib.suppress(HostFailure):
            self.send({"op": "bye"})
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 9)
            self.proc.wait()
        for fd in (self.to_host, self.from_host):
            with contextlib.suppress(OSError):
                os.close(fd)


ABSENT = object()  # a graded function the submission does not define (deleted, or its cell failed)


class Remote:
    """A stand-in for the student's function ``name``: calls it in the host with plain data.

    A test cell may replace other graded functions in its namespace by reference implementations
    (``course_lib.checks.judge_alone``); such replacements are forwarded with the call, so that the
    student's function calls the references by name in the host too, for the duration of this call.
    ``node_class`` is the notebook's graph node class (05's ``Value``), whose objects cross as data.
    """

    def __init__(self, host: Host, name: str, ns: dict[str, Any] | None = None,
                 originals: dict[str, Any] | None = None, node_class: type | None = None) -> None:
        self._host = host
        self._ns = ns if ns is not None else {}
        self._originals = originals if originals is not None else {}
        self._node_class = node_class
        self.__name__ = self.__qualname__ = name

    def _replacements(self) -> dict[str, Any]:
        """Graded names the test has bound to a function of its own (never another student function)."""
        current = {n: self._ns.get(n, ABSENT) for n in self._originals}
        return {n: v for n, v in current.items()
                if v is not self._originals[n] and callable(v) and not isinstance(v, Remote)}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from course_lib import guard

        graph = GraphCodec(self._node_class, side=0) if self._node_class is not None else None
        swap_handles: dict[int, Any] = {}
        try:
            message = {"op": "call", "name": self.__name__, "args": encode(list(args), self._host.callables, 0, graph),
                       "kwargs": encode(kwargs, self._host.callables, 0, graph)}
            replacements = self._replacements()
            if replacements:
                message["swap"] = encode(replacements, swap_handles)
            if graph is not None:
                message["graph"] = graph.section()
        except WireError as exc:
            raise Unverifiable(f"the test passes {exc} to {self.__name__}") from None
        if guard.is_disabled():
            message["guard"] = self.__name__
        self._host.callables.update(swap_handles)
        try:
            return self._host.call(message, graph)
        finally:  # the references are usable by the student's code during this call only
            for handle in swap_handles:
                self._host.callables.pop(handle, None)

    def __repr__(self) -> str:
        return f"<student function {self.__name__}>"

    def __getattr__(self, attr: str) -> Any:
        # A test that inspects the function object itself (its code, globals...) cannot be re-run here.
        raise Unverifiable(f"the test inspects {self.__name__}.{attr}")


class Unverifiable(BaseException):
    """The test hands the student's function something that cannot be sent as data (never the student's doing).

    A BaseException, so that a test helper's ``except Exception`` (which turns a student's error into a
    message) cannot turn it into a failure: the cell scores 0 and the instructor is asked to look.
    """


def cell_score(value: Any, points: float) -> float:
    """nbgrader's rule for a test cell that ran without error: a plain number in [0, points] is partial credit."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= points:
        return float(value)
    return points


def run_trusted(code: str, ns: dict) -> Any:
    tree = ast.parse(strip_magics(code))
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body[-1].value)
        tree.body.pop()
    exec(compile(tree, "<test cell>", "exec"), ns)
    return eval(compile(last, "<test cell>", "eval"), ns) if last is not None else None


def trusted_source(cell: Any, visible_only: bool) -> str:
    """A source test or setup cell's code; with ``visible_only``, each hidden region becomes ``pass``."""
    if not visible_only or BEGIN_HIDDEN not in cell.source:
        return cell.source
    try:
        return replace_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN, "pass")
    except MarkerError:  # a begin marker without its end: nothing from it on is visible
        return cell.source[: cell.source.index(BEGIN_HIDDEN)] + "pass"


