"""A submission's resource limits (:class:`Limits`) and how an instructor overrides them (``BPC_SANDBOX_LIMITS``).

Read by :mod:`autograder.isolation.sandbox_kernel` (which enforces them with cgroups, tmpfs sizes and rlimits)
and by :mod:`autograder.isolation.sandbox` (which says which of them hold on this machine).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

__all__ = ["ENV_USER_LIMITS", "MIB", "Limits", "SandboxError"]

ENV_USER_LIMITS = "BPC_SANDBOX_LIMITS"  # the instructor's overrides of the defaults, e.g. "submission_memory=4G"
MIB = 2**20
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class SandboxError(Exception):
    """The sandbox cannot be set up as the policy asks; the kernel is not started."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission's sandbox.

    Per submission (cgroup, all its processes together): ``submission_memory_bytes``, ``cpu_percent``,
    ``cpu_weight``, ``processes``. Per filesystem: ``work_bytes``, ``tmp_bytes``. Per process (rlimits, kept
    as a second line where cgroups work, the only line where they do not): the others.
    """

    submission_memory_bytes: int = 2 * 2**30  # cgroup memory.max / memory.limit_in_bytes (tmpfs files count)
    cpu_percent: int = 100  # cgroup cpu.max / cfs_quota: 100 = one core at most; 0 = no cap
    cpu_weight: int = 100  # cgroup cpu.weight (v1 cpu.shares = weight * 1024 / 100): share under contention
    processes: int = 256  # cgroup pids.max: processes and threads of the whole submission
    work_bytes: int = 256 * MIB  # tmpfs of the working folder (the notebook folder's copy)
    tmp_bytes: int = 256 * MIB  # tmpfs of /tmp (which holds HOME) and of /dev/shm, each
    memory_bytes: int = 3 * 2**30  # RLIMIT_AS per process
    cpu_seconds: int = 120  # RLIMIT_CPU per process: SIGXCPU then SIGKILL 2 s later
    file_bytes: int = 64 * MIB  # RLIMIT_FSIZE: largest file a process can write
    open_files: int = 1024  # RLIMIT_NOFILE
    copy_bytes: int = 256 * MIB  # most bytes of the notebook folder copied into the sandbox
    uid: int = 65534  # user the kernel runs as (root mode: really; rootless: the uid shown inside)
    gid: int = 65534

    def to_json(self) -> str:
        """The limits as JSON (what ``BACKPROP_SANDBOX_LIMITS`` holds)."""
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str | None, environ: Mapping[str, str] | None = None) -> Limits:
        """Limits from JSON; missing keys keep the defaults (with :data:`ENV_USER_LIMITS`' overrides).

        Unknown keys and negative or non-integer values are an error (:class:`SandboxError`).
        """
        try:
            data = json.loads(text) if text else {}
        except ValueError as exc:
            raise SandboxError(f"the sandbox limits are not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise SandboxError("the sandbox limits must be a JSON object")
        base = Limits.from_user_env(os.environ if environ is None else environ)
        return Limits._checked({**asdict(base), **data}, "limits")

    @staticmethod
    def from_user_env(environ: Mapping[str, str] = os.environ) -> Limits:
        """The defaults with the overrides of ``BPC_SANDBOX_LIMITS`` (``key=value,...``, sizes with K/M/G).

        Keys are the field names, ``_bytes`` may be left out: ``submission_memory=4G,cpu_percent=200``.
        """
        text = environ.get(ENV_USER_LIMITS, "").strip()
        data: dict[str, int] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, eq, value = item.partition("=")
            key, value = key.strip().replace("-", "_"), value.strip().upper().removesuffix("B").removesuffix("I")
            if not eq or not value:
                raise SandboxError(f"{ENV_USER_LIMITS}: '{item}' is not key=value (e.g. submission_memory=4G)")
            known = {f.name for f in fields(Limits)}
            if key not in known and f"{key}_bytes" in known:
                key = f"{key}_bytes"
            unit = value[-1] if value[-1] in _UNITS else ""
            try:
                number = float(value[: len(value) - len(unit)])
            except ValueError:
                raise SandboxError(f"{ENV_USER_LIMITS}: '{item}': {value!r} is not a number") from None
            data[key] = int(number * _UNITS[unit])
        return Limits._checked({**asdict(Limits()), **data}, ENV_USER_LIMITS)

    @staticmethod
    def _checked(data: dict, where: str) -> Limits:
        known = {f.name for f in fields(Limits)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SandboxError(f"unknown limits in {where}: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        bad = sorted(k for k, v in data.items() if not isinstance(v, int) or isinstance(v, bool) or v < 0)
        if bad:
            raise SandboxError(f"limits must be non-negative integers: {', '.join(bad)}")
        return Limits(**data)


