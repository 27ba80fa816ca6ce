"""A small process pool for grading: N long-lived workers, a time limit per job, and kill on overrun.

``concurrent.futures`` cannot stop one running task; a submission that hangs past its limit must be
killed with everything it started (its Jupyter kernel runs in a session of its own), and the worker
replaced, while the rest of the class goes on. Results arrive in completion order through a callback.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnContext
from typing import Generic, TypeVar

import psutil

__all__ = ["JobFailure", "run_pool"]

J = TypeVar("J")  # a job: pickled to a worker process
R = TypeVar("R")  # what grading one job returns


class JobFailure(Generic[J]):
    """Returned in place of a result when a job overran its limit or its worker process died."""

    def __init__(self, job: J, reason: str) -> None:
        self.job = job
        self.reason = reason


def _worker_main(conn: Connection, func: Callable[[J], R], log: str | None) -> None:
    if log:  # the worker's and its kernels' chatter goes to a log file, not the instructor's terminal
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    while True:
        try:
            job = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if job is None:
            return
        try:
            conn.send(func(job))
        except KeyboardInterrupt:
            return
        except Exception as exc:  # noqa: BLE001 - one bad job must not take the worker down
            conn.send(JobFailure(job, f"the grader failed on this submission: {type(exc).__name__}: {exc}"))


def _kill_tree(pid: int | None) -> None:
    if pid is None:  # never started
        return
    try:
        proc = psutil.Process(pid)
        procs = proc.children(recursive=True) + [proc]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(procs, timeout=5)


class _Worker(Generic[J, R]):
    def __init__(self, ctx: SpawnContext, func: Callable[[J], R], log: str | None) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, func, log), daemon=True)
        self.proc.start()
        child.close()
        self.job: J | None = None
        self.deadline = 0.0

    def stop(self, kill: bool = False) -> None:
        if kill:
            _kill_tree(self.proc.pid)
        else:
            with contextlib.suppress(BrokenPipeError, OSError):
                self.conn.send(None)
            self.proc.join(5)
            if self.proc.is_alive():
                _kill_tree(self.proc.pid)
        self.conn.close()


def run_pool(
    func: Callable[[J], R],
    jobs: Iterable[J],
    workers: int,
    time_limit: float,
    on_result: Callable[[J, R | JobFailure[J]], None],
    log: str | None = None,
) -> None:
    """Run ``func(job)`` for every job on ``workers`` processes; call ``on_result(job, result)`` for each.

    ``result`` is ``func``'s return value, or a :class:`JobFailure` when the job ran longer than
    ``time_limit`` seconds (its process tree is killed) or its worker died. ``func`` must be importable
    (the workers are started with the "spawn" method). The workers' output goes to the file ``log``.
    """
    ctx = mp.get_context("spawn")
    pending = deque(jobs)
    size = max(1, min(workers, len(pending))) if pending else 0
    pool: list[_Worker[J, R]] = [_Worker(ctx, func, log) for _ in range(size)]
    try:
        while pending or any(w.job is not None for w in pool):
            for i, w in enumerate(pool):
                if w.job is None and pending:
                    job = pending.popleft()
                    try:
                        w.conn.send(job)
                    except (BrokenPipeError, OSError):  # the idle worker died: replace it, retry once
                        w.stop(kill=True)
                        w = pool[i] = _Worker(ctx, func, log)
                        w.conn.send(job)
                    w.job, w.deadline = job, time.monotonic() + time_limit
            busy = [w for w in pool if w.job is not None]
            ready = wait([w.conn for w in busy], timeout=0.5)
            for i, w in enumerate(pool):
                if w.job is None:
                    continue
                failure = None
                if w.conn in ready:
                    try:
                        result = w.conn.recv()
                    except (EOFError, OSError):
                        failure = JobFailure(w.job, "the grading process died (out of memory or killed)")
                    else:
                        job, w.job = w.job, None
                        on_result(job, result)
                        continue
                elif time.monotonic() > w.deadline:
                    failure = JobFailure(w.job, f"stopped after the per-submission limit of {time_limit:g} s")
                elif not w.proc.is_alive():
                    failure = JobFailure(w.job, "the grading process died (out of memory or killed)")
                if failure is not None:
                    w.stop(kill=True)
                    pool[i] = _Worker(ctx, func, log)
                    on_result(failure.job, failure)
    finally:
        for w in pool:
            w.stop(kill=w.job is not None)
