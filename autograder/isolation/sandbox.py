"""Grade student code in a sandbox: a bubblewrap-isolated kernel, per-submission limits, and capped output.

Without it, student code runs as the grader with its working directory inside the course folder: it can
read the hidden tests and the gradebook, write anything, reach the network, fork-bomb or fill memory. With
it, each notebook's kernel is the ``backprop-sandbox`` kernelspec, whose launcher
(:mod:`autograder.isolation.sandbox_kernel`) runs ipykernel under ``bwrap`` without capabilities, in its own
pid/network/ipc/uts namespaces, with:

* a view built from nothing (an allow-list): read-only system folders (:data:`SYSTEM_PATHS`), Python, the
  virtual environment's real path and the ``course_lib`` package folder (never the repository around it)
  without ``course_lib/answers`` (the graded exercises' working code: an empty read-only folder there);
  nothing else of the host exists in it (no course folder, no other submission, no repository clone);
* its working folder (a copy of the notebook folder, no notebooks, no symlinks), ``/tmp`` and ``HOME`` on
  size-limited tmpfs, so nothing it writes reaches the grader's disk or the files nbgrader later writes;
* one cgroup per submission (memory, CPU quota and weight, ``pids.max``; cgroup v1 or v2), so forked
  children share one budget; per-process rlimits (address space, CPU time, file size, open files) too;
* the ipc transport over unix sockets, since TCP cannot cross the network namespace: the trusted launcher
  binds them in a folder outside the view and hands them in (:mod:`~autograder.isolation.kernel_sockets`).

**Who may run it.** As root, the kernel is dropped to ``Limits.uid`` (65534) with ``setpriv``. As any other
user (an instructor's own account), where the kernel allows unprivileged user namespaces, bwrap runs
rootless (``--unshare-user``): the same view and limits, except that cgroups are usually not writable there;
then processes are bounded in the sandbox's own user namespace, memory by a watchdog
(:mod:`~autograder.isolation.memory_watch`) and CPU per process only, and :func:`sandbox_summary` says so.
Where neither root nor user namespaces are available, :func:`sandbox_available` returns ``(False, why and what to do)``.
``python -m autograder.isolation.sandbox`` prints both (exit status 0 when the sandbox can run, 1 if not).

:class:`CappedExecute` replaces nbgrader's ``Execute`` so that output beyond a byte budget per cell and per
notebook is dropped (with a note) instead of kept in the grader's memory and the graded notebook; the
outputs that decide a score (errors, stderr, the ``execute_result``) are always kept, shortened.

Integration in :func:`autograder.grading.worker.grade_submission`::

    from autograder.isolation.sandbox import sandbox_command, sandboxed

    with sandboxed(scratch, Path(job.source).parent, limits=limits) as extra:  # the course root: source/'s parent
        host = sandbox_command([sys.executable, "-m", "autograder.isolation.student_host"])  # the re-check's host
        api = nbgrader_api(course, cell_timeout=job.cell_timeout, extra=extra)
        ... everything from api.autograde(...) to api.generate_feedback(...) ...
    extra.stats  # after the block: what the submission used (peak memory, OOM kills) where cgroups work,
                 # and memory_stopped_bytes where the rootless memory watchdog stopped it

and decide once (in :func:`autograder.commands.grade.grade`) what to do when ``sandbox_available()`` is
``(False, why)``: refuse, or grade unsandboxed after printing ``why``; print :func:`sandbox_summary` once.

``sandboxed`` sets the environment the launcher reads (``JUPYTER_PATH`` with the kernelspec and the
``BACKPROP_SANDBOX_*`` policy) for the duration of the block and restores it after; ``extra`` is the
``nbgrader_config(extra=...)`` dict (a :class:`SandboxRun`): ``Execute.kernel_name``,
``KernelManager.transport``/``ip`` and ``Autograde.autograde_preprocessors``. :func:`sandbox_config` returns
the same settings without touching the environment.

Limits (:class:`Limits`) default to the values in its definition; an instructor changes them for a grading
run with ``BPC_SANDBOX_LIMITS``, e.g. ``BPC_SANDBOX_LIMITS="submission_memory=4G,cpu_percent=200"``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.errors import SandboxUnavailable
from autograder.isolation.capped_execute import SKIPPED_NOTE, CappedExecute, skipped_cells
from autograder.isolation.cgroups import SubmissionCgroups, cleanup_cgroups
from autograder.isolation.memory_watch import STOPPED_NOTE
from autograder.isolation.sandbox_kernel import (
    ENV_CGROUPS,
    ENV_HIDE,
    ENV_LIMITS,
    ENV_MPL_FONTLIST,
    ENV_NOTEBOOKS,
    ENV_READONLY,
    ENV_USER_LIMITS,
    ENV_WORK,
    SYSTEM_PATHS,
    Limits,
    SandboxError,
)

__all__ = [
    "AUTOGRADE_PREPROCESSORS",
    "KERNEL_NAME",
    "SKIPPED_NOTE",
    "CappedExecute",
    "Limits",
    "SYSTEM_PATHS",
    "SandboxRun",
    "SandboxSettings",
    "cleanup_cgroups",
    "graded_answer_folders",
    "parallel_bounded",
    "sandbox_available",
    "sandbox_command",
    "sandbox_config",
    "sandbox_summary",
    "sandboxed",
    "skipped_cells",
    "write_kernelspec",
]

KERNEL_NAME = "backprop-sandbox"
# nbgrader's default Autograde.autograde_preprocessors (nbgrader/converters/autograde.py), Execute replaced
AUTOGRADE_PREPROCESSORS = [
    "autograder.isolation.capped_execute.CappedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
SYSTEM_HIDE = ("/root", "/home", "/run", "/var/run", "/var/tmp", "/srv", "/mnt", "/media")
_PROBE_TIMEOUT = 20


def _bwrap_probe_command(bwrap: str, rootless: bool) -> list[str]:
    user = ["--unshare-user", "--disable-userns"] if rootless else []
    return [bwrap, *user, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--die-with-parent",
            "--cap-drop", "ALL", "--", "true"]


def _userns_hint() -> str:
    """Why unprivileged user namespaces may be off here (the sysctl that says so), and how to allow them."""
    checks = [("/proc/sys/kernel/unprivileged_userns_clone", "0", "kernel.unprivileged_userns_clone=1"),
              ("/proc/sys/user/max_user_namespaces", "0", "user.max_user_namespaces=15000"),
              ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1",
               "kernel.apparmor_restrict_unprivileged_userns=0 (or an AppArmor profile that allows bwrap)")]
    for path, off, fix in checks:
        try:
            if Path(path).read_text().strip() == off:
                return f"{Path(path).name} is {off}: an administrator can allow them with sysctl -w {fix}"
        except OSError:
            continue
    return "the kernel or a security module refuses them"


@functools.lru_cache(maxsize=2)
def _probe(euid: int) -> tuple[bool, str]:
    if sys.platform != "linux":
        return False, f"the sandbox needs Linux (bubblewrap); this is {sys.platform}"
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return False, "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    rootless = euid != 0
    if not rootless and not shutil.which("setpriv"):
        return False, "setpriv (util-linux) is not installed"
    try:
        run = subprocess.run(_bwrap_probe_command(bwrap, rootless), capture_output=True, text=True,
                             timeout=_PROBE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap could not be run: {exc}"
    if run.returncode != 0:
        why = ((run.stderr or run.stdout).strip().splitlines() or [f"exit status {run.returncode}"])[-1]
        if rootless:
            return False, (f"not root, and bwrap cannot make an unprivileged user namespace here ({why}); "
                           f"{_userns_hint()}; or grade as root (sudo), or pass --no-sandbox")
        return False, f"bwrap fails here: {why}"
    return True, ""


def sandbox_available() -> tuple[bool, str]:
    """Whether kernels can be sandboxed here, and if not why and what to do (bwrap is actually run once).

    As root: bwrap and setpriv must work. As any other user: bwrap must be able to make an unprivileged
    user namespace (rootless mode). ``BPC_SANDBOX_LIMITS``, when set, must parse.
    """
    try:
        Limits.from_user_env()
    except SandboxError as exc:
        return False, str(exc)
    return _probe(os.geteuid())


sandbox_available.cache_clear = _probe.cache_clear  # type: ignore[attr-defined]


def sandbox_summary(limits: Limits | None = None) -> str:
    """One line for the grading log: root or rootless, the limits, and what is enforced per submission.

    Makes (and removes) a trial cgroup to find out which limits cgroups can enforce here.
    """
    limits = limits or Limits.from_user_env()
    mode = (f"as root (kernels run as uid {limits.uid})" if os.geteuid() == 0
            else f"rootless (unprivileged user namespace, as uid {os.geteuid()})")
    trial = SubmissionCgroups.create(limits)
    try:
        enforced = trial.describe(rootless=os.geteuid() != 0)
    finally:
        trial.close()
    gib = 2**30
    return (f"sandbox {mode}; limits: memory {limits.submission_memory_bytes / gib:g} GiB per submission "
            f"({limits.memory_bytes / gib:g} GiB per process), CPU {limits.cpu_percent}% of a core, "
            f"{limits.processes} processes, working folder {limits.work_bytes / 2**20:g} MiB, /tmp and HOME "
            f"{limits.tmp_bytes / 2**20:g} MiB; {enforced} (change with {ENV_USER_LIMITS})")


def parallel_bounded(limits: Limits | None = None) -> bool:
    """Whether every per-submission limit (memory, CPU, processes) is a cgroup here (a trial group is made).

    Without them CPU is limited per process only (no quota or share), memory is a watchdog's poll, and as
    root RLIMIT_NPROC counts every process of the kernels' uid: submissions graded side by side could
    starve each other, so :func:`autograder.commands.grade.grade` then grades one submission at a time.
    """
    trial = SubmissionCgroups.create(limits or Limits.from_user_env())
    try:
        return not trial.missing
    finally:
        trial.close()


def sandbox_command(argv: Sequence[str]) -> list[str]:
    """The command that runs ``argv`` sandboxed, with the policy of the enclosing :func:`sandboxed` block.

    Same isolation and limits as the kernels; open file descriptors are inherited (the re-check's pipes);
    the ``autograder`` package is readable. For the re-check's student host::

        host_command = sandbox_command([sys.executable, "-m", "autograder.isolation.student_host"])
    """
    return [sys.executable, "-I", "-m", "autograder.isolation.sandbox_kernel", "--exec", "--", *argv]


def write_kernelspec(folder: Path) -> str:
    """Write the ``backprop-sandbox`` kernelspec under ``folder/kernels/`` (put ``folder`` on JUPYTER_PATH).

    Returns the kernel name. The launcher runs with ``python -I`` so that files in the notebook's folder
    (its working directory) cannot shadow ``autograder`` in the trusted launcher.
    """
    spec = {
        "argv": [sys.executable, "-I", "-m", "autograder.isolation.sandbox_kernel", "-f", "{connection_file}"],
        "display_name": "Python 3 (sandboxed grader)",
        "language": "python",
        "interrupt_mode": "message",  # a signal to the launcher's process group would hit bwrap, not the kernel
        "metadata": {"debugger": False},
    }
    path = Path(folder) / "kernels" / KERNEL_NAME
    path.mkdir(parents=True, exist_ok=True)
    (path / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    return KERNEL_NAME


@functools.lru_cache(maxsize=1)
def _matplotlib_fontlist() -> str:
    """matplotlib's font cache of the grader (built now if missing), to seed each kernel's HOME; '' if none."""
    try:
        from matplotlib import font_manager
    except ImportError:
        return ""
    path = getattr(font_manager, "_fmcache", None)
    return str(path) if path and Path(path).is_file() else ""


def _readonly_defaults() -> list[Path]:
    """What the kernel may read besides the system folders: Python, the venv (real paths too), course_lib.

    A prefix that is a system folder itself (``/usr``, ``/usr/local``) is not bound whole: its library
    folders are (``sysconfig``), so ``/usr/src`` or ``/usr/local/src`` stay out of the view. Only the
    ``course_lib`` package folder is bound, never the repository that holds it (``notebooks/``, tests).
    """
    paths: list[Path] = []
    broad = {Path("/"), Path("/usr"), Path("/usr/local"), Path("/opt")}
    for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        for q in (Path(p), Path(p).resolve()):
            if q not in broad:
                paths.append(q)
    for key, value in sysconfig.get_paths().items():
        if key in ("stdlib", "platstdlib", "purelib", "platlib", "scripts"):
            paths += [Path(value), Path(value).resolve()]
    paths += [Path(sys.executable).parent, Path(sys.executable).resolve().parent]
    spec = importlib.util.find_spec("course_lib")
    if spec and spec.submodule_search_locations:
        paths += [Path(p).resolve() for p in spec.submodule_search_locations]
    return sorted({p for p in paths if p.exists() and p not in broad})


def graded_answer_folders() -> list[Path]:
    """course_lib's ``answers`` folder (the graded exercises' working code), wherever course_lib is installed.

    :func:`sandbox_config` hides it: the sandbox's course_lib has no graded answer to import, read or find.
    """
    spec = importlib.util.find_spec("course_lib")
    locations = spec.submodule_search_locations if spec and spec.submodule_search_locations else []
    return sorted({Path(p).resolve() / "answers" for p in locations})


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


@dataclass
class SandboxSettings:
    """What the grader adds to nbgrader's config (``config``) and to ``os.environ`` (``env``)."""

    config: dict[str, Any]
    env: dict[str, str]
    work: Path
    hide: list[Path] = field(default_factory=list)


class SandboxRun(dict):
    """The nbgrader config of a :func:`sandboxed` block (a dict), with what the block learnt.

    ``cgroups`` describes what is enforced per submission (:meth:`SubmissionCgroups.describe`); ``stats``
    is filled when the block ends: peak memory and OOM kills of the submission, where cgroups work, and
    ``memory_stopped_bytes`` when the memory watchdog (:mod:`~autograder.isolation.memory_watch`) stopped it.
    """

    cgroups: str = ""
    stats: dict[str, int]


def sandbox_config(
    scratch: Path,
    course_root: Path,
    work: Path,
    *,
    limits: Limits | None = None,
    hide: Iterable[Path] = (),
    readonly: Iterable[Path] = (),
    cell_output_bytes: int | None = None,
    notebook_output_bytes: int | None = None,
) -> SandboxSettings:
    """Settings to autograde the scratch course ``scratch`` with sandboxed kernels.

    ``work`` is the folder of the kernels' sockets, bound there by the trusted launcher and never in a
    kernel's view (short path: unix socket paths are limited to 107 bytes); a kernelspec is written next
    to it, in ``work.parent/jupyter``.
    Readable: :data:`SYSTEM_PATHS`, Python, the venv, course_lib, and ``readonly``; nothing else exists in
    the view. Hidden even where they fall inside one of those: ``course_root``, ``scratch`` (and what its
    ``source`` link points to), the repository, :data:`SYSTEM_HIDE`, the grader's home, course_lib's graded
    answers (:func:`graded_answer_folders`) and ``hide``.
    """
    limits = limits or Limits.from_user_env()
    work = Path(work).resolve()
    if len(str(work / "k-99999")) > 100:  # sun_path holds 107 bytes
        raise ValueError(f"{work} is too long a path for the kernels' unix sockets: use a shorter TMPDIR")
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o700)  # the launcher binds the kernels' sockets here; no sandbox sees the folder
    kernels = work.parent / "jupyter"
    name = write_kernelspec(kernels)
    scratch, course_root = Path(scratch).resolve(), Path(course_root).resolve()
    hidden = {scratch, course_root, _repo_root(), Path.home().resolve(), *map(Path, SYSTEM_HIDE),
              *graded_answer_folders()}
    if (scratch / "source").is_symlink():
        hidden.add((scratch / "source").resolve())
    hidden |= {Path(p).resolve() for p in hide}
    env = {
        "JUPYTER_PATH": os.pathsep.join([str(kernels), *filter(None, [os.environ.get("JUPYTER_PATH")])]),
        ENV_WORK: str(work),
        ENV_NOTEBOOKS: str(scratch / "autograded"),
        ENV_HIDE: os.pathsep.join(sorted(map(str, hidden))),
        ENV_READONLY: os.pathsep.join(sorted(map(str, {*_readonly_defaults(), *map(Path, readonly)}))),
        ENV_LIMITS: limits.to_json(),
        ENV_MPL_FONTLIST: _matplotlib_fontlist(),
    }
    config: dict[str, Any] = {
        "Execute.kernel_name": name,
        "KernelManager.transport": "ipc",
        "KernelManager.ip": str(work / "k"),
        "Autograde.autograde_preprocessors": list(AUTOGRADE_PREPROCESSORS),
    }
    if cell_output_bytes is not None:
        config["CappedExecute.max_cell_output_bytes"] = cell_output_bytes
    if notebook_output_bytes is not None:
        config["CappedExecute.max_notebook_output_bytes"] = notebook_output_bytes
    return SandboxSettings(config, env, work, sorted(hidden))


def _temp_root() -> Path:
    """Where :func:`sandboxed` keeps its folder (the kernels' sockets, the launcher's copies of the notebook
    folder; no sandbox writes there): ``/dev/shm`` when usable, else the system temp dir."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) and not shm.is_symlink():
        return shm
    return Path(tempfile.gettempdir())


def _remove_stale_folders() -> None:
    """Delete the private folders of :func:`sandboxed` blocks whose process is gone (a killed worker)."""
    import psutil

    for root in {_temp_root(), Path(tempfile.gettempdir())}:
        for folder in root.glob("bpsb-*-*"):
            pid = folder.name.split("-")[1]
            if pid.isdigit() and not psutil.pid_exists(int(pid)) and folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder, ignore_errors=True)
    # the empty cgroups of such blocks (s-<pid>-...); a live block's group is never touched
    cleanup_cgroups(lambda name: not psutil.pid_exists(int(name.split("-")[1])))


@contextlib.contextmanager
def sandboxed(
    scratch: Path,
    course_root: Path,
    *,
    limits: Limits | None = None,
    hide: Iterable[Path] = (),
    readonly: Iterable[Path] = (),
    cell_output_bytes: int | None = None,
    notebook_output_bytes: int | None = None,
) -> Iterator[SandboxRun]:
    """Within the block, kernels started by nbgrader with the yielded config run sandboxed.

    Makes a private folder (kernelspec + the kernels' socket folder) and the submission's cgroups, sets
    ``os.environ`` for the launcher, and on exit restores the environment, kills whatever the submission
    left running, records its usage in ``stats``, and deletes the folder and the cgroups. Raises
    :class:`~autograder.errors.SandboxUnavailable` when :func:`sandbox_available` says no.
    """
    ok, why = sandbox_available()
    if not ok:
        raise SandboxUnavailable(f"cannot sandbox the grading kernels: {why}")
    limits = limits or Limits.from_user_env()
    _remove_stale_folders()
    top = Path(tempfile.mkdtemp(prefix=f"bpsb-{os.getpid()}-", dir=_temp_root()))
    saved: dict[str, str | None] = {}
    cgroups = SubmissionCgroups()
    run = SandboxRun()
    run.stats = {}
    try:
        settings = sandbox_config(scratch, course_root, top / "run", limits=limits, hide=hide, readonly=readonly,
                                  cell_output_bytes=cell_output_bytes, notebook_output_bytes=notebook_output_bytes)
        cgroups = SubmissionCgroups.create(limits)
        run.update(settings.config)
        run.cgroups = cgroups.describe(rootless=os.geteuid() != 0)
        env = {**settings.env, ENV_CGROUPS: os.pathsep.join(map(str, cgroups.folders))}
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        yield run
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        run.stats = cgroups.stats()
        with contextlib.suppress(OSError, ValueError):  # the rootless memory watchdog stopped the submission
            run.stats["memory_stopped_bytes"] = int((top / STOPPED_NOTE).read_text())
        cgroups.close()
        shutil.rmtree(top, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------
# output budget


def main() -> int:
    """``python -m autograder.isolation.sandbox``: say whether (and how) students' code can be sandboxed here."""
    ok, why = sandbox_available()
    if not ok:
        print(f"sandbox: NOT available: {why}")
        return 1
    print(f"sandbox: available; {sandbox_summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
