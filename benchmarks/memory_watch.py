"""What one look of the rootless memory watchdog costs: ``python -m benchmarks.memory_watch [--processes N]``.

Forks N sleeping children of a Python process that has numpy loaded (as the student host's snapshots are),
then times :func:`autograder.isolation.memory_watch.descendants` (the scan of ``/proc``), the cheap resident
sum, and the exact proportional (PSS) sum the watchdog reads once the resident sum passes the budget. The
watchdog spaces its looks so that they cost at most ``SHARE`` of a core; the figures say how far apart they
then are. Prints one table; no assertion.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from collections.abc import Callable
from typing import TypeVar

from autograder.isolation.memory_watch import INTERVAL, SHARE, descendants, used_bytes

T = TypeVar("T")


def _children(n: int) -> list[int]:
    import numpy  # noqa: F401 - resident pages shared with every child, as in a student host

    pids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            time.sleep(600)
            os._exit(0)
        pids.append(pid)
    return pids


def _timed(func: Callable[..., T], *args: object) -> tuple[float, T]:
    start = time.process_time()
    value = func(*args)
    return time.process_time() - start, value


def main() -> None:
    """Print the cost of one look, per number of processes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[4, 50, 250])
    args = parser.parse_args()
    print(f"{'processes':>9} | {'scan /proc':>10} | {'resident sum':>12} | {'PSS sum':>8} | {'resident':>9} | "
          f"{'PSS':>7} | looks every")
    for n in args.processes:
        pids = _children(n)
        try:
            scan, found = _timed(descendants, os.getpid())
            rss_t, rss = _timed(used_bytes, found, 2**62)
            pss_t, pss = _timed(used_bytes, found, 0)
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        every = max(INTERVAL, (1 - SHARE) / SHARE * (scan + pss_t))
        print(f"{len(found):>9} | {scan * 1000:>7.1f} ms | {rss_t * 1000:>9.1f} ms | {pss_t * 1000:>5.0f} ms | "
              f"{rss / 2**20:>5.0f} MiB | {pss / 2**20:>3.0f} MiB | {every:.1f} s (past the budget)")


if __name__ == "__main__":
    main()
