"""One cgroup per submission (memory, CPU, processes), in either cgroup dialect: made, joined, measured, removed.

The grader makes a submission's groups (:class:`SubmissionCgroups`) before its kernel starts; the sandbox
launcher (:mod:`autograder.isolation.sandbox_kernel`) moves itself into them (:func:`join_cgroups`), so the
kernel and everything it forks share one budget. cgroup v1 (one hierarchy per controller: ``memory.limit_in_bytes``,
``cpu.cfs_quota_us``/``cpu.shares``, ``pids.max``) and v2 (``memory.max``, ``cpu.max``/``cpu.weight``) are both
written. Where no hierarchy lets this user make groups (rootless, without a delegated systemd scope) nothing is
made and :meth:`SubmissionCgroups.describe` says which limits are per process only.

Standard library only: the launcher imports this module on every kernel start.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

__all__ = ["CGROUP_GROUP", "CONTROLLERS", "SubmissionCgroups", "cleanup_cgroups", "group_folders", "join_cgroups",
           "pids_group_folders"]

CGROUP_GROUP = "backprop-sandbox"  # our folder in each cgroup hierarchy; submissions get s-<pid>-<hex> inside
CONTROLLERS = ("memory", "cpu", "pids")


class Limits(Protocol):
    """What a submission's cgroups enforce (:class:`autograder.isolation.sandbox_kernel.Limits` has these)."""

    @property
    def submission_memory_bytes(self) -> int: ...
    @property
    def cpu_percent(self) -> int: ...
    @property
    def cpu_weight(self) -> int: ...
    @property
    def processes(self) -> int: ...



def _mounts() -> list[tuple[str, str, str]]:
    """(mount point, filesystem type, super options) of the cgroup mounts."""
    out = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        left, _, right = line.partition(" - ")
        parts, rparts = left.split(), right.split()
        if len(parts) >= 5 and len(rparts) >= 3 and rparts[0] in ("cgroup", "cgroup2"):
            out.append((parts[4].replace("\\040", " "), rparts[0], rparts[2]))
    return out


def _own_cgroups() -> dict[str, str]:
    own: dict[str, str] = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            hid, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else ["" if hid == "0" else hid]:
                own[c] = path
    except (OSError, ValueError):
        pass
    return own


def group_folders(controllers: Iterable[str] = CONTROLLERS) -> dict[str, tuple[Path, str]]:
    """Per controller, where this process may make cgroups and in which dialect ("v1"/"v2").

    cgroup v1: the controller's hierarchy, nested under this process's own cgroup there. cgroup v2: the
    unified hierarchy's root, when it offers the controller (a v2 cgroup holding processes cannot delegate).
    A v1 hierarchy is preferred where both offer a controller (v2 then has it unavailable anyway).
    """
    own = _own_cgroups()
    found: dict[str, tuple[Path, str]] = {}
    mounts = _mounts()
    for mount, fstype, options in mounts:
        if fstype == "cgroup":
            for c in controllers:
                if c in options.split(",") and c not in found:
                    found[c] = (Path(mount) / own.get(c, "/").lstrip("/") / CGROUP_GROUP, "v1")
    for mount, fstype, _ in mounts:
        if fstype == "cgroup2":
            try:
                offered = (Path(mount) / "cgroup.controllers").read_text().split()
            except OSError:
                continue
            for c in controllers:
                if c in offered and c not in found:
                    found[c] = (Path(mount) / CGROUP_GROUP, "v2")
    return found


def pids_group_folders() -> list[Path]:
    """Where the pids cgroups of submissions are made (for tests and :func:`cleanup_cgroups`)."""
    folder = group_folders(("pids",)).get("pids")
    return [folder[0]] if folder else []


def _settings(controller: str, dialect: str, limits: Limits) -> list[tuple[str, str]]:
    """The (file, value) pairs that apply ``limits`` for one controller, in the order they must be written."""
    period = 100_000
    if controller == "memory" and limits.submission_memory_bytes:
        if dialect == "v2":
            return [("memory.max", str(limits.submission_memory_bytes)), ("memory.swap.max?", "0")]
        return [("memory.limit_in_bytes", str(limits.submission_memory_bytes)),
                ("memory.memsw.limit_in_bytes?", str(limits.submission_memory_bytes))]
    if controller == "cpu":
        quota = limits.cpu_percent * period // 100 if limits.cpu_percent else 0
        weight = min(max(limits.cpu_weight, 1), 10_000)
        if dialect == "v2":
            return [("cpu.max", f"{quota or 'max'} {period}"), ("cpu.weight", str(weight))]
        return [("cpu.cfs_period_us", str(period)), ("cpu.cfs_quota_us", str(quota or -1)),
                ("cpu.shares", str(max(2, weight * 1024 // 100)))]
    if controller == "pids":
        return [("pids.max", str(limits.processes))]
    return []


@dataclass
class SubmissionCgroups:
    """One cgroup per controller (memory, cpu, pids) for one submission: made, joined, measured, removed.

    :meth:`create` makes what it can and says what it could not in :attr:`missing` (controller -> reason);
    the launcher then keeps the per-process rlimits only for those. :meth:`close` kills what is left in
    the groups and removes them.
    """

    paths: dict[str, Path] = field(default_factory=dict)  # controller -> cgroup folder
    dialects: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def create(limits: Limits, controllers: Sequence[str] = CONTROLLERS) -> SubmissionCgroups:
        """Make this submission's cgroups under ``backprop-sandbox`` in every hierarchy that lets us."""
        out = SubmissionCgroups()
        folders = group_folders(controllers)
        name = f"s-{os.getpid()}-{secrets.token_hex(4)}"
        for c in controllers:
            if c not in folders:
                out.missing[c] = "no cgroup hierarchy offers it"
                continue
            group, dialect = folders[c]
            cg = group / name
            try:
                group.mkdir(exist_ok=True)
                if dialect == "v2":
                    for control in (group.parent / "cgroup.subtree_control", group / "cgroup.subtree_control"):
                        if c not in control.read_text().split():
                            control.write_text(f"+{c}")
                cg.mkdir(exist_ok=cg in out.paths.values())
                for fname, value in _settings(c, dialect, limits):
                    optional = fname.endswith("?")
                    path = cg / fname.rstrip("?")
                    if optional and not path.exists():
                        continue
                    path.write_text(value)
                out.paths[c], out.dialects[c] = cg, dialect
            except OSError as exc:
                out.missing[c] = f"{exc.strerror or exc} ({cg})"
                if cg not in out.paths.values():
                    with contextlib.suppress(OSError):
                        cg.rmdir()
        return out

    @property
    def folders(self) -> list[Path]:
        """The distinct cgroup folders to join (one per hierarchy)."""
        return sorted(set(self.paths.values()))

    def describe(self, rootless: bool = False) -> str:
        """One line: what is enforced per submission, how where no cgroup could be made, and why not."""
        done = ", ".join(f"{c} ({self.dialects[c]})" for c in self.paths)
        parts = [f"per-submission cgroup limits: {done}" if done else "no per-submission cgroup limits"]
        instead = {"memory": "memory: the processes' sum watched every 0.1 s (a watchdog stops them all past it)",
                   "pids": ("processes: RLIMIT_NPROC in the sandbox's own user namespace (this submission's alone)"
                            if rootless else "processes: RLIMIT_NPROC of the kernels' uid (shared by all)"),
                   "cpu": "CPU: per-process time limit only (no quota, no share)"}
        if self.missing:
            parts.append("not enforced per submission by a cgroup (" + "; ".join(
                f"{c}: {why}" for c, why in self.missing.items()) + ")")
            parts.append("instead, " + "; ".join(instead[c] for c in self.missing if c in instead))
        return "; ".join(parts)

    def stats(self) -> dict[str, int]:
        """What the submission used: peak memory, OOM kills, CPU throttling (what the kernel reports)."""
        out: dict[str, int] = {}
        mem = self.paths.get("memory")
        if mem:
            for name in ("memory.max_usage_in_bytes", "memory.peak"):
                with contextlib.suppress(OSError, ValueError):
                    out["peak_memory_bytes"] = int((mem / name).read_text().split()[0])
            for name in ("memory.oom_control", "memory.events"):
                with contextlib.suppress(OSError, ValueError):
                    for line in (mem / name).read_text().splitlines():
                        key, _, value = line.partition(" ")
                        if key == "oom_kill":
                            out["oom_kills"] = int(value)
        cpu = self.paths.get("cpu")
        if cpu:
            with contextlib.suppress(OSError, ValueError):
                for line in (cpu / "cpu.stat").read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key in ("nr_throttled", "throttled_time", "throttled_usec", "usage_usec"):
                        out[f"cpu_{key}"] = int(value)
        return out

    def close(self, timeout: float = 10.0) -> list[Path]:
        """Kill every process left in the groups and remove them; return the folders that could not go."""
        left = []
        for cg in self.folders:
            deadline = time.monotonic() + timeout
            while cg.exists():
                kill = cg / "cgroup.kill"
                try:
                    if kill.exists():
                        kill.write_text("1")
                    else:
                        for pid in (cg / "cgroup.procs").read_text().split():
                            with contextlib.suppress(ProcessLookupError, PermissionError):
                                os.kill(int(pid), signal.SIGKILL)
                    cg.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        left.append(cg)
                        break
                    time.sleep(0.05)
        return left


def cleanup_cgroups(stale: Callable[[str], bool] | None = None) -> list[Path]:
    """Remove the empty submission and kernel cgroups this module made; return those removed.

    A cgroup that still holds a process cannot be removed (the kernel refuses), so live kernels are safe.
    ``stale``, if given, picks by name (``s-<pid>-<hex>``) which empty groups may go.
    """
    removed = []
    for group, _ in group_folders().values():
        if not group.is_dir():
            continue
        for cg in sorted([*group.glob("k-*"), *group.glob("s-*")]):
            if stale is not None and not (cg.name.split("-")[1].isdigit() and stale(cg.name)):
                continue
            try:
                cg.rmdir()
                removed.append(cg)
            except OSError:
                continue
        with contextlib.suppress(OSError):
            group.rmdir()
    return removed


def join_cgroups(folders: Iterable[Path]) -> list[Path]:
    """Move this process into each folder; return those joined."""
    joined = []
    for cg in folders:
        try:
            (cg / "cgroup.procs").write_text(str(os.getpid()))
            joined.append(cg)
        except OSError as exc:
            print(f"backprop-sandbox: could not join the submission's cgroup {cg}: {exc}", file=sys.stderr)
    return joined
