"""The student's side of grading (run as ``python -m autograder.isolation.student_host IN OUT``, sandboxed).

The one process in which a submission's code runs while it is graded. It runs the notebook's cells that are
not test cells, in the notebook's order (cells the student added included), once, capturing their outputs
for the instructor's copy of the notebook. Test cells never run here: at each test cell's place the grader
(:mod:`autograder.isolation.verify`) runs the source's test cell in its own process and calls the student's
functions here with plain data (:mod:`autograder.isolation.wire`).

At each test cell the process forks twice, so that every test sees the notebook's state at its place and no
hidden input ever reaches the process whose answers feed the student's feedback:

* a **visible** child answers the calls of the cell's visible checks right away, then exits;
* a **snapshot** child waits; after the last cell has run and every visible check is judged, the grader
  wakes each snapshot in turn to answer the calls of the full test (hidden part included), then it exits.

Whatever the student's code does to numpy, course_lib or builtins happens in these processes only.
This process is untrusted once the first student cell has run.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # fork-safe numpy, before it loads
    os.environ[_var] = "1"

import signal  # noqa: E402
import sys  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

from autograder.isolation.wire import GraphCodec, WireError, decode, encode, read_frame, write_frame  # noqa: E402

__all__ = ["main"]

_MISSING = object()
# what every graded notebook's host imports (measured: IPython.display and these course_lib modules in all five)
WARM_MODULES = ("IPython.display", "course_lib.lesson", "course_lib.checks", "course_lib.gradcheck",
                "course_lib.guard", "course_lib.graph", "course_lib.models")
CELL_OUTPUT = 1 << 20  # characters of output kept per cell
NOTEBOOK_OUTPUT = 8 << 20  # and per notebook


class _Timeout(BaseException):
    pass


def _alarm(_signum: int, _frame: Any) -> None:
    raise _Timeout()


def _quiet() -> None:
    """Route the student's prints and errors to /dev/null: the protocol has its own descriptors."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


class _Budget:
    """Output characters left for the notebook."""

    def __init__(self) -> None:
        self.left = NOTEBOOK_OUTPUT

    def take(self, text: str, cell_left: list[int]) -> str:
        room = min(self.left, cell_left[0])
        kept = text if len(text) <= room else text[:max(room, 0)] + "\n[output truncated by the grader]\n"
        self.left -= min(len(text), room)
        cell_left[0] -= min(len(text), room)
        return kept


def _error(exc: BaseException) -> dict:
    if isinstance(exc, _Timeout):
        return {"output_type": "error", "ename": "CellTimeoutError", "evalue": "the cell did not finish in time",
                "traceback": []}
    try:
        evalue = str(exc)[:2000]
    except Exception:  # noqa: BLE001 - a student's __str__
        evalue = ""
    if isinstance(exc, SyntaxError):
        evalue = f"{exc.msg} (line {exc.lineno})"
    name = type(exc).__name__
    return {"output_type": "error", "ename": name, "evalue": evalue, "traceback": [f"{name}: {evalue}"]}


def _run_cell(shell: Any, code: str, timeout: int, budget: _Budget, count: int) -> list[dict]:
    """Run one cell like a notebook does; its outputs as nbformat dicts (text only, within the budget)."""
    from IPython.utils.capture import capture_output

    result, error = None, None
    signal.alarm(timeout)
    try:
        with capture_output(display=True) as cap:
            res = shell.run_cell(code, store_history=True)
        result, error = res.result, res.error_before_exec or res.error_in_exec
    except _Timeout as exc:
        error, cap = exc, None
    finally:
        signal.alarm(0)
    left = [CELL_OUTPUT]
    outs: list[dict] = []
    if cap is not None:
        for name, text in (("stdout", cap.stdout), ("stderr", cap.stderr)):
            if text:
                outs.append({"output_type": "stream", "name": name, "text": budget.take(text, left)})
        for rich in cap.outputs:
            data = {k: budget.take(v, left) for k, v in (rich.data or {}).items() if isinstance(v, str)}
            if data:
                outs.append({"output_type": "display_data", "data": data, "metadata": {}})
    if result is not None and error is None:
        try:
            data, _ = shell.display_formatter.format(result)
        except Exception:  # noqa: BLE001 - a student's repr
            data = {}
        data = {k: budget.take(v, left) for k, v in data.items() if isinstance(v, str)}
        if data:
            outs.append({"output_type": "execute_result", "data": data, "metadata": {}, "execution_count": count})
    if error is not None:
        outs.append(_error(error))
    return outs


def _make_callable(fd_in: int, fd_out: int, graph: GraphCodec | None) -> Any:
    def make(handle: int, name: str) -> Any:
        def call_back(*a: Any, **kw: Any) -> Any:
            message = {"op": "callback", "handle": handle, "args": encode(list(a), None, 0, graph),
                       "kwargs": encode(kw, None, 0, graph)}
            if graph is not None:
                message["graph"] = graph.section()
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})  # a time-out never cuts a frame in two
            try:
                write_frame(fd_out, message)
                reply = read_frame(fd_in)
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})
            if graph is not None and "graph" in reply:
                graph.absorb(reply["graph"])
            if reply.get("op") == "raise":
                raise RuntimeError(f"{name}: {reply.get('message', '')}")
            return decode(reply.get("value"), make, 0, graph)

        call_back.__name__ = name
        return call_back

    return make


def _call(message: dict, ns: dict, kinds: dict, job: dict, fd_in: int, fd_out: int) -> dict:
    """Answer one ``call``: the student's function with decoded arguments, for the length of the call only
    with the test's references in place of other graded functions (``swap``)."""
    node_class = ns.get(job.get("graph") or "") if job.get("graph") else None
    graph = GraphCodec(node_class, side=1) if isinstance(node_class, type) else None
    if graph is not None and "graph" in message:
        graph.absorb(message["graph"])
    make = _make_callable(fd_in, fd_out, graph)
    fn = ns[message["name"]]
    call_args = decode(message.get("args", []), make, 0, graph)
    call_kwargs = decode(message.get("kwargs", {}), make, 0, graph)
    swap = decode(message["swap"], make) if "swap" in message else {}
    if not isinstance(swap, dict):
        raise WireError("malformed replacements")
    swap = {n: f for n, f in swap.items() if kinds.get(n) in ("callable", "missing") and callable(f)}
    saved = {n: ns.get(n, _MISSING) for n in swap}
    ns.update(swap)
    signal.alarm(int(message.get("timeout", job.get("cell_timeout", 30))))
    try:
        if message.get("guard"):
            from course_lib.guard import hand_written_only

            with hand_written_only(message["guard"]):
                value = fn(*call_args, **call_kwargs)
        else:
            value = fn(*call_args, **call_kwargs)
    finally:
        signal.alarm(0)
        for n, before in saved.items():
            if before is _MISSING:
                ns.pop(n, None)
            else:
                ns[n] = before
    reply = {"op": "result", "value": encode(value, None, 0, graph)}
    if graph is not None:
        reply["graph"] = graph.section()
    return reply


def _serve(fd_in: int, fd_out: int, ns: dict, job: dict, test: str, phase: str) -> None:
    """Answer the grader's calls for one test cell until it says ``bye``."""
    kinds = {name: ("callable" if callable(ns[name]) else "data") if name in ns else "missing"
             for name in job.get("names", [])}
    write_frame(fd_out, {"op": "ready", "test": test, "phase": phase, "names": kinds})
    while True:
        message = read_frame(fd_in)
        op = message.get("op")
        if op == "bye":
            return
        try:
            if op == "get":
                reply = {"op": "result", "value": encode(ns[message["name"]])}
            elif op == "call":
                reply = _call(message, ns, kinds, job, fd_in, fd_out)
            else:
                reply = {"op": "error", "type": "WireError", "message": f"unknown request {op!r}"}
        except _Timeout:
            reply = {"op": "error", "type": "TimeoutError", "message": "the function did not return in time"}
        except WireError as exc:
            reply = {"op": "error", "type": "TypeError", "message": f"returned {exc}"}
        except Exception as exc:  # noqa: BLE001 - the student's exception, reported to the verifier
            try:
                text = str(exc)[:4000]
            except Exception:  # noqa: BLE001 - a student's __str__
                text = ""
            reply = {"op": "error", "type": type(exc).__name__, "message": text}
        write_frame(fd_out, reply)


def _child(fd_in: int, fd_out: int, ns: dict, job: dict, test: str, phase: str, wait_fd: int = -1) -> None:
    """In a forked child: (wait for the grader's go on ``wait_fd``, then) serve one test cell and exit."""
    code = 0
    try:
        signal.alarm(0)
        if wait_fd >= 0 and os.read(wait_fd, 1) != b"g":
            os._exit(0)
        _serve(fd_in, fd_out, ns, job, test, phase)
    except BaseException:  # noqa: BLE001 - the parent reports the end; nothing else may run here
        code = 1
    os._exit(code)


def _close(fds: list[int]) -> None:
    """In a child: close the other snapshots' wake-up pipes (each snapshot's end of file is its parent's)."""
    for fd in fds:
        os.close(fd)


def _wait(pid: int, fd_out: int, test: str) -> None:
    """Wait for a child that serves ``test``, then tell the grader it ended (cleanly or not)."""
    _, status = os.waitpid(pid, 0)
    write_frame(fd_out, {"op": "ended", "test": test, "clean": os.waitstatus_to_exitcode(status) == 0})


def _warm() -> InteractiveShell:
    """IPython's shell, and the course_lib modules every graded notebook imports, loaded before any student code.

    Loading them is all the host does before its submission's job arrives (nothing of a submission is known
    yet), so a host started ahead of its submission (:func:`autograder.isolation.session.prestart_host`)
    spends its start-up while the grader does nbgrader's bookkeeping. A module that fails to load here is
    left to the notebook's own import to report.
    """
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    for module in WARM_MODULES:
        try:
            __import__(module)
        except Exception:  # noqa: BLE001 - the notebook's own import says what is wrong
            continue
    return shell


def main(argv: list[str] | None = None) -> int:
    """Serve one grading session: ``argv = [in_fd, out_fd]``."""
    args = argv if argv is not None else sys.argv[1:]
    fd_in, fd_out = int(args[0]), int(args[1])
    _quiet()
    os.environ.setdefault("MPLBACKEND", "Agg")
    signal.signal(signal.SIGALRM, _alarm)
    shell = _warm()  # before the job arrives: a host started ahead of its submission is ready when it comes
    job = read_frame(fd_in)
    if job.get("op") != "run":  # a pre-started host nobody needed
        return 0
    write_frame(fd_out, {"op": "started"})
    # errors become outputs (_error), not printed text
    shell.showtraceback = lambda *a, **k: None  # type: ignore[method-assign]
    shell.showsyntaxerror = lambda *a, **k: None  # type: ignore[method-assign]
    shell.displayhook.write_output_prompt = lambda: None
    shell.displayhook.write_format_data = lambda *a, **k: None
    timeout = int(job.get("cell_timeout", 30))
    budget, count = _Budget(), 0
    outputs: list[list[dict] | None] = []
    snapshots: dict[str, tuple[int, int]] = {}
    for item in job.get("cells", []):
        if "test" in item:
            test = str(item["test"])
            wait_r, wait_w = os.pipe()
            pid = os.fork()
            if pid == 0:
                _close([wait_w, *(w for _, w in snapshots.values())])
                _child(fd_in, fd_out, shell.user_ns, job, test, "full", wait_r)
            os.close(wait_r)
            snapshots[test] = (pid, wait_w)
            pid = os.fork()
            if pid == 0:
                _close([w for _, w in snapshots.values()])
                _child(fd_in, fd_out, shell.user_ns, job, test, "visible")
            _wait(pid, fd_out, test)
            outputs.append(None)
        else:
            count += 1
            outputs.append(_run_cell(shell, str(item.get("code", "")), timeout, budget, count))
    write_frame(fd_out, {"op": "outputs", "outputs": outputs})
    while True:
        message = read_frame(fd_in)
        if message.get("op") == "hidden" and str(message.get("test")) in snapshots:
            test = str(message["test"])
            pid, wait_w = snapshots.pop(test)
            os.write(wait_w, b"g")
            os.close(wait_w)
            _wait(pid, fd_out, test)
        else:
            break
    for pid, wait_w in snapshots.values():
        os.close(wait_w)  # the snapshot reads end of file and exits
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
