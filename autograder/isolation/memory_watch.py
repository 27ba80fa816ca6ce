"""A submission's memory bound where no memory cgroup can be had (rootless grading): a watchdog process.

RLIMIT_AS binds one process; a submission that forks can hold many times it (four children of 700 MB under
a 2 GiB budget). Where the grader cannot make a memory cgroup, the sandbox launcher
(:mod:`autograder.isolation.sandbox_kernel`) forks :func:`start_watchdog` just before it becomes bwrap: a
process outside the sandbox, of the grader's own user, that sums the proportional set size (PSS: pages
shared by forked processes counted once) of every process below bwrap, every :data:`INTERVAL` seconds, and
kills them all when the sum passes the submission's budget. It is a poll, not an allocator's limit: between
two looks a process can overshoot by what it allocates meanwhile (still under its own RLIMIT_AS); the looks
are :data:`INTERVAL` apart, further when one costs more than :data:`SHARE` of a core (reading every process's
PSS costs about a millisecond of CPU each: with 250 processes sharing pages a look costs 0.26 s, so looks
come every 2.3 s; ``benchmarks/memory_watch.py``).
Files on the sandbox's tmpfs are bounded by the tmpfs sizes, not here.

Standard library only: the launcher imports this module on every sandbox start.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import sys
import time
from pathlib import Path

__all__ = ["INTERVAL", "SHARE", "STOPPED_NOTE", "descendants", "start_watchdog", "used_bytes"]

INTERVAL = 0.1  # seconds between two looks, at least
SHARE = 0.1  # at most this share of one CPU core: with hundreds of processes the looks are further apart
_PAGE = os.sysconf("SC_PAGE_SIZE")


def descendants(root: int) -> list[int]:
    """Every live process below ``root`` (children, grandchildren, ...), from ``/proc/<pid>/stat``."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _resident(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    return 0


def _pss(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return _resident(pid)


def used_bytes(pids: list[int], limit: int) -> int:
    """Memory the processes ``pids`` hold together: resident size, or PSS once that sum passes ``limit``.

    The resident sums are cheap and count shared pages once per process (an overestimate); only when
    they pass the limit is the exact proportional sum read.
    """
    rss = sum(_resident(p) for p in pids)
    return rss if rss <= limit else sum(_pss(p) for p in pids)


STOPPED_NOTE = "memory-stopped"  # the file the watchdog leaves in the grader's folder when it stopped a submission


def _watch(parent: int, limit: int, note: Path | None) -> int:
    """Poll the processes below ``parent`` (bwrap, once the launcher has exec'd) until it is gone."""
    me = os.getpid()
    while os.getppid() == parent:
        spent = time.process_time()
        pids = [p for p in descendants(parent) if p != me]
        used = used_bytes(pids, limit)
        spent = time.process_time() - spent
        if used > limit:
            for pid in [parent, *pids]:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            print(f"backprop-sandbox: the submission's processes held {used / 2**20:.0f} MiB together, over its "
                  f"budget of {limit / 2**20:.0f} MiB (submission_memory): all of them were stopped",
                  file=sys.stderr, flush=True)
            if note is not None:
                with contextlib.suppress(OSError):
                    note.write_text(f"{used}\n")
            return 1
        time.sleep(max(INTERVAL, (1 - SHARE) / SHARE * spent))
    return 0


def start_watchdog(limit: int, note: Path | None = None) -> int:
    """Fork the watchdog of this process's future descendants (call just before exec); return its pid.

    The watchdog keeps only stderr (the grader's log: it says when it stopped a submission) and, when it
    stops one, writes the memory it saw into ``note``; it exits when its parent does.
    """
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    try:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])  # no pipe of the grader's held open
        code = _watch(parent, limit, note)
    except BaseException:  # noqa: BLE001 - a watchdog child must never return into the launcher's code
        code = 1
    os._exit(code)
