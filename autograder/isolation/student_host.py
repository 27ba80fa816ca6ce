"""The student's side of the independent re-check (run as ``python -m autograder.isolation.student_host IN OUT``).

It runs a submission's own code cells (never its test cells) and then answers calls from the verifier
(:mod:`autograder.isolation.verify`): "call your function ``grad_w1`` with these numbers". Only data travels back
(:mod:`autograder.isolation.wire`). Whatever the student's code does to numpy, course_lib or builtins happens in this
process only; the verdict is computed in the verifier, where no student code ever runs.

This process is untrusted once the first student cell has run; the grader starts it inside the sandbox.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from autograder.isolation.wire import WireError, decode, encode, read_frame, write_frame

__all__ = ["main"]


_MISSING = object()


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


def main(argv: list[str] | None = None) -> int:
    """Serve one verifier: ``argv = [in_fd, out_fd]``."""
    args = argv if argv is not None else sys.argv[1:]
    fd_in, fd_out = int(args[0]), int(args[1])
    _quiet()
    os.environ.setdefault("MPLBACKEND", "Agg")
    signal.signal(signal.SIGALRM, _alarm)
    job = read_frame(fd_in)
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    timeout = int(job.get("cell_timeout", 30))
    for code in job.get("cells", []):
        signal.alarm(timeout)
        try:
            shell.run_cell(code, silent=True, store_history=False)
        except _Timeout:
            pass  # like nbgrader: an interrupted cell, the notebook goes on
        finally:
            signal.alarm(0)
    ns = shell.user_ns
    kinds = {name: ("callable" if callable(ns[name]) else "data") if name in ns else "missing"
             for name in job.get("names", [])}
    write_frame(fd_out, {"op": "ready", "names": kinds})

    def make_callable(handle: int, name: str) -> Any:
        def call_back(*a: Any, **kw: Any) -> Any:
            write_frame(fd_out, {"op": "callback", "handle": handle, "args": encode(list(a)), "kwargs": encode(kw)})
            reply = read_frame(fd_in)
            if reply.get("op") == "raise":
                raise RuntimeError(f"{name}: {reply.get('message', '')}")
            return decode(reply.get("value"), make_callable)

        call_back.__name__ = name
        return call_back

    while True:
        message = read_frame(fd_in)
        op = message.get("op")
        if op == "bye":
            return 0
        try:
            if op == "get":
                reply = {"op": "result", "value": encode(ns[message["name"]])}
            elif op == "call":
                fn = ns[message["name"]]
                call_args = decode(message.get("args", []), make_callable)
                call_kwargs = decode(message.get("kwargs", {}), make_callable)
                # The test's references for other graded functions, in place for this call only
                swap = decode(message["swap"], make_callable) if "swap" in message else {}
                if not isinstance(swap, dict):
                    raise WireError("malformed replacements")
                swap = {n: f for n, f in swap.items() if kinds.get(n) in ("callable", "missing") and callable(f)}
                saved = {n: ns.get(n, _MISSING) for n in swap}
                ns.update(swap)
                signal.alarm(int(message.get("timeout", timeout)))
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
                reply = {"op": "result", "value": encode(value)}
            else:
                reply = {"op": "error", "type": "WireError", "message": f"unknown request {op!r}"}
        except _Timeout:
            reply = {"op": "error", "type": "TimeoutError", "message": "the function did not return in time"}
        except WireError as exc:
            reply = {"op": "error", "type": "TypeError", "message": f"returned {exc}"}
        except Exception as exc:  # noqa: BLE001 - the student's exception, reported to the verifier
            reply = {"op": "error", "type": type(exc).__name__, "message": str(exc)[:4000]}
        write_frame(fd_out, reply)


if __name__ == "__main__":
    sys.exit(main())
