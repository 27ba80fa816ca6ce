"""One submission's notebook, graded in one run of the student's code.

:func:`run_session` starts one student host (:mod:`autograder.isolation.student_host`, sandboxed by the
caller's ``host_command``) for a notebook as nbgrader restored it. The host runs every cell that is not a
test cell, in order (cells the student added anywhere included), once. At each test cell's place the
verifier (:mod:`autograder.isolation.verify`) runs the *source's* test cell in the grader, calling the
student's functions in a process forked at that place:

1. **Visible phase.** For each test cell in the notebook's order, its visible part (hidden regions removed)
   is judged against a child forked there. No process has been sent a hidden input yet, so these
   messages may be shown to the student (feedback).
2. **Full phase.** After the last cell has run, each test cell (hidden part included) is judged against a
   snapshot forked at its place before its visible check: the score. Hidden inputs reach only these
   snapshots, which exit after their cell.

Nothing the student's process prints, displays or returns outside these calls decides a score.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from autograder.isolation.verify import (
    ABSENT,
    CellVerdict,
    ChildEnded,
    Host,
    HostFailure,
    Remote,
    Unverifiable,
    cell_score,
    graded_names,
    run_trusted,
    trusted_source,
)
from autograder.notebook.cells import grade_id, is_answer, is_test, meta
from autograder.notebook.dependencies import needed_parts

__all__ = ["Session", "discard_prestarted", "graph_class", "host_cells", "prestart_host", "run_session",
           "verify_notebook", "visible_messages"]


@dataclass
class Session:
    """What one run of a notebook yielded (plain data)."""

    visible: dict[str, CellVerdict] = field(default_factory=dict)  # per test cell: its visible checks
    verdicts: dict[str, CellVerdict] = field(default_factory=dict)  # per test cell: the score
    outputs: dict[int, list[dict]] = field(default_factory=dict)  # per cell index: what the student's cell showed
    skipped: list[int] = field(default_factory=list)  # locked cells no later cell needs (not run)
    printed: dict[str, str] = field(default_factory=dict)  # per test cell: what its full run printed (grader side)
    problem: str = ""
    seconds: dict[str, float] = field(default_factory=dict)  # wall time: "sandbox start", "student cells", "checks"


def graph_class(source: nbformat.NotebookNode) -> str:
    """The class whose objects cross as graph data (``metadata.backprop_course.graph_nodes``), or ''."""
    return str((source.metadata.get("backprop_course") or {}).get("graph_nodes") or "")


def host_cells(nb: nbformat.NotebookNode, tests: set[str]) -> tuple[list[dict], list[int], list[int]]:
    """The host's program: ``{"code"}`` per cell that runs, ``{"test"}`` at each test cell's place.

    Returns it, the index of each ``{"code"}`` entry's cell, and the locked cells skipped because no later
    cell reads what they define (drawings, widgets); of the other locked cells only the statements some
    later cell needs run (:func:`~autograder.notebook.dependencies.needed_parts`). Cells a student can
    edit or added always run, whole.
    """
    code = [(i, c) for i, c in enumerate(nb.cells) if c.get("cell_type") == "code"]
    runnable = [(i, c) for i, c in code if not is_test(c)]
    parts = needed_parts([(not meta(c).get("locked"), c.get("source", "")) for _, c in runnable])
    kept = {i: part for (i, _), part in zip(runnable, parts, strict=True) if part is not None}
    program, indices, seen = [], [], set()
    for i, cell in code:
        gid = grade_id(cell)
        if is_test(cell):
            if gid in tests and gid not in seen:
                seen.add(gid)
                program.append({"test": gid})
        elif i in kept:
            program.append({"code": kept[i]})
            indices.append(i)
    return program, indices, sorted({i for i, _ in runnable} - set(kept))


@functools.lru_cache(maxsize=32)
def _trusted_parts(cells: tuple[tuple[bool, str], ...]) -> tuple[str | None, ...]:
    """:func:`needed_parts` of the source's own cells, worked out once per notebook and grading process.

    Only trusted code (the source's setup and test cells) is cached here, never a submission's cells.
    """
    return tuple(needed_parts(list(cells)))


class _Judge:
    """The verifier's namespace for one phase: the source's trusted cells, run up to each test cell."""

    def __init__(self, source: nbformat.NotebookNode, host: Host, visible_only: bool) -> None:
        self.host, self.visible_only = host, visible_only
        self.names = graded_names(source)
        self.graph = graph_class(source)
        last_test = max(i for i, c in enumerate(source.cells) if is_test(c))
        trusted = [c for i, c in enumerate(source.cells) if i <= last_test and c.cell_type == "code"
                   and not is_answer(c)]
        code = [trusted_source(c, visible_only) for c in trusted]
        parts = _trusted_parts(tuple((is_test(c), src) for c, src in zip(trusted, code, strict=True)))
        self.cells = [(c, part) for c, part in zip(trusted, parts, strict=True) if part is not None]
        self.done = 0
        self.ns: dict[str, Any] = {"__name__": "__main__", "display": lambda *a, **k: None}

    def _bind(self, kinds: dict) -> None:
        """Point the graded names at the process now serving (a fresh child per test cell)."""
        node_class = self.ns.get(self.graph) if self.graph else None
        node_class = node_class if isinstance(node_class, type) else None
        originals: dict[str, Any] = {}
        for name in self.names:
            kind = kinds.get(name) if isinstance(kinds, dict) else None
            self.ns.pop(name, None)
            if kind == "callable":
                self.ns[name] = originals[name] = Remote(self.host, name, self.ns, originals, node_class)
            elif kind == "missing":
                originals[name] = ABSENT  # a test may still put a reference in its place
            elif kind == "data":
                with contextlib.suppress(Exception):  # a value that cannot be read: tests that use it fail
                    self.ns[name] = self.host.call({"op": "get", "name": name})

    def _exec(self, src: str) -> tuple[Any, str, bool, str]:
        """Run trusted code; (value, error message, unverifiable, what it printed)."""
        out = io.StringIO()
        with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            try:
                return run_trusted(src, self.ns), "", False, out.getvalue()
            except HostFailure:
                raise
            except Unverifiable as exc:
                return None, f"could not be checked automatically: {exc}", True, out.getvalue()
            except ChildEnded:
                return None, ("the submission's process ended during this test (os._exit, a crash or a resource "
                              "limit)"), False, out.getvalue()
            except BaseException as exc:  # a failing test: any exception, like nbgrader
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                return None, f"{type(exc).__name__}: {exc}", False, out.getvalue()

    def judge(self, test: str, kinds: dict) -> tuple[CellVerdict, str]:
        """Run the trusted cells up to test cell ``test`` (setup first), then the test: its verdict."""
        position = next((k for k, (c, _) in enumerate(self.cells) if grade_id(c) == test), None)
        if position is None:
            raise HostFailure(f"the submission's process reached a test cell the grader does not know ({test!r})")
        for cell, src in self.cells[self.done:position]:
            if not is_test(cell):
                self._exec(src)
        self.done = max(self.done, position + 1)
        self.host.start_cell()
        self._bind(kinds)
        cell, src = self.cells[position]
        points = float(meta(cell).get("points", 0))
        value, error, unverifiable, printed = self._exec(src)
        if self.host.refused:
            error, unverifiable = self.host.refused, False
        score = 0.0 if error else cell_score(value, points)
        return CellVerdict(test, score, points, error, unverifiable), printed


_PRESTARTED: dict[tuple[str, ...], list[tuple[Host, float]]] = {}


def prestart_host(host_command: list[str], host_env: dict[str, str] | None = None, cell_timeout: float = 30.0) -> None:
    """Start a student host for a notebook :func:`run_session` will grade soon, in this process.

    The host loads Python, numpy, IPython and course_lib (its whole start-up) while the caller does other
    work, then waits for its job. Each pre-started host is a fresh process that serves exactly one
    :func:`run_session` with the same ``host_command`` (the first to ask takes it, no other ever sees it);
    start it where that run's sandbox policy is in force (inside its ``sandboxed`` block), and call
    :func:`discard_prestarted` when the runs are over.
    """
    _PRESTARTED.setdefault(tuple(host_command), []).append(
        (Host(list(host_command), host_env, cell_timeout), time.perf_counter()))


def discard_prestarted() -> None:
    """Stop every pre-started host no run took (each reads end of file instead of a job and exits)."""
    while _PRESTARTED:
        _, hosts = _PRESTARTED.popitem()
        for host, _ in hosts:
            _discard(host)


def _discard(host: Host) -> None:
    """Stop a host that never got its job: end of file on its input ends it; killed if it does not."""
    with contextlib.suppress(OSError):
        os.close(host.to_host)
    try:
        host.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(host.proc.pid, signal.SIGKILL)
        host.proc.wait()
    with contextlib.suppress(OSError):
        os.close(host.from_host)


def _take_host(command: list[str], host_env: dict[str, str] | None, cell_timeout: float) -> tuple[Host, float]:
    """A pre-started host for ``command`` (taken: never handed out again), else a new one; and its start time."""
    hosts = _PRESTARTED.get(tuple(command)) if host_env is None else None
    if hosts:
        host, started = hosts.pop(0)
        host.timeout = cell_timeout
        return host, started
    return Host(command, host_env, cell_timeout), time.perf_counter()


def _serve_one(host: Host, judge: _Judge, ready: dict, timeout: float) -> tuple[CellVerdict, str]:
    """Judge the test cell a child announced (``ready``), then let the child go and wait for its end."""
    if ready.get("op") != "ready":
        raise HostFailure(f"the submission's process sent an unexpected message {ready.get('op')!r}")
    verdict, printed = judge.judge(str(ready.get("test")), ready.get("names") or {})
    if not host.ended:
        host.send({"op": "bye"})
        while host.receive(timeout).get("op") != "ended":
            pass
    return verdict, printed


def _check_outputs(outputs: Any, count: int) -> list[list[dict]]:
    if not isinstance(outputs, list) or len(outputs) != count:
        raise HostFailure("the submission's process sent malformed cell outputs")
    return outputs


def run_session(source_path: Path, submission: nbformat.NotebookNode, host_command: list[str] | None = None,
                host_env: dict[str, str] | None = None, cell_timeout: float = 30.0) -> Session:
    """Run ``submission`` (a notebook as nbgrader restored it) once, judging every test cell of ``source_path``.

    ``host_command`` starts the student host (default: this Python, unsandboxed; the grader passes a
    sandboxed command). Every test cell of the source gets a verdict: one the run did not reach, or could
    not judge, scores 0 with a message. The outputs are nbformat output dicts *as the student's process
    sent them* (untrusted: the caller checks and caps them).
    """
    source = nbformat.read(str(source_path), as_version=4)
    tests = {grade_id(c): c for c in source.cells if is_test(c)}
    session = Session()
    if not tests:
        return session
    program, indices, session.skipped = host_cells(submission, set(tests))
    command = host_command or [sys.executable, "-m", "autograder.isolation.student_host"]
    start = time.perf_counter()
    host, launched = _take_host(command, host_env, cell_timeout)
    waiting = cell_timeout * (len(program) + 1) + 30
    reached: list[str] = []
    checks = 0.0
    try:
        host.send({"op": "run", "cells": program, "names": graded_names(source), "graph": graph_class(source),
                   "cell_timeout": cell_timeout})
        if host.receive(waiting).get("op") != "started":
            raise HostFailure("the submission's process did not start properly")
        session.seconds["sandbox start"] = time.perf_counter() - start  # what this run waited for
        session.seconds["sandbox start, whole"] = time.perf_counter() - launched  # from the host's launch
        visible = _Judge(source, host, visible_only=True)
        while True:
            message = host.receive(waiting)
            if message.get("op") == "outputs":
                break
            mark = time.perf_counter()
            verdict, _ = _serve_one(host, visible, message, waiting)
            checks += time.perf_counter() - mark
            session.visible[verdict.grade_id] = verdict
            reached.append(verdict.grade_id)
        outputs = _check_outputs(message.get("outputs"), len(program))
        code_at = [k for k, item in enumerate(program) if "code" in item]
        session.outputs = {i: outputs[k] for i, k in zip(indices, code_at, strict=True)}
        session.seconds["student cells"] = time.perf_counter() - start - session.seconds["sandbox start"] - checks
        full = _Judge(source, host, visible_only=False)
        mark = time.perf_counter()
        for test in reached:
            host.send({"op": "hidden", "test": test})
            verdict, session.printed[test] = _serve_one(host, full, host.receive(waiting), waiting)
            session.verdicts[test] = verdict
        session.seconds["checks"] = checks + time.perf_counter() - mark
    except HostFailure as exc:
        session.problem = str(exc)
    finally:
        host.close()
    for gid, cell in tests.items():
        why = session.problem or "the test cell is missing from the submitted notebook"
        session.verdicts.setdefault(gid, CellVerdict(gid, 0.0, float(meta(cell).get("points", 0)), why))
    return session


def _session_of(source_path: Path, submission_path: Path, host_command: list[str] | None,
                host_env: dict[str, str] | None, cell_timeout: float) -> Session:
    """The one run of the notebook file ``submission_path`` against the tests of ``source_path``."""
    return run_session(source_path, nbformat.read(str(submission_path), as_version=4), host_command, host_env,
                       cell_timeout)


def verify_notebook(source_path: Path, submission_path: Path, host_command: list[str] | None = None,
                    host_env: dict[str, str] | None = None,
                    cell_timeout: float = 30.0) -> tuple[dict[str, CellVerdict], str]:
    """The verdict per test cell of ``source_path`` for the notebook file ``submission_path``, and the problem."""
    session = _session_of(source_path, submission_path, host_command, host_env, cell_timeout)
    return session.verdicts, session.problem


def visible_messages(source_path: Path, submission_path: Path, host_command: list[str] | None = None,
                     host_env: dict[str, str] | None = None,
                     cell_timeout: float = 30.0) -> tuple[dict[str, CellVerdict], str]:
    """The verdicts of the *visible* part of each test cell reached (what feedback may show), and the problem."""
    session = _session_of(source_path, submission_path, host_command, host_env, cell_timeout)
    return session.visible, session.problem
