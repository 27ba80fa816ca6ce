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
* the ipc transport over unix sockets in a shared folder, since TCP cannot cross the network namespace.

**Who may run it.** As root, the kernel is dropped to ``Limits.uid`` (65534) with ``setpriv``. As any other
user (an instructor's own account), where the kernel allows unprivileged user namespaces, bwrap runs
rootless (``--unshare-user``): the same view and limits, except that cgroups are usually not writable there;
then memory and CPU are limited per process only, and :func:`sandbox_summary` says so. Where neither root
nor user namespaces are available, :func:`sandbox_available` returns ``(False, why and what to do)``.
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
    extra.stats  # after the block: what the submission used (peak memory, OOM kills) where cgroups work

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

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer

from autograder.errors import SandboxUnavailable
from autograder.isolation.cgroups import SubmissionCgroups, cleanup_cgroups
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
from autograder.notebook.cells import meta
from autograder.notebook.dependencies import needed_cells

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
    "autograder.isolation.sandbox.CappedExecute",
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
        enforced = trial.describe()
    finally:
        trial.close()
    gib = 2**30
    return (f"sandbox {mode}; limits: memory {limits.submission_memory_bytes / gib:g} GiB per submission "
            f"({limits.memory_bytes / gib:g} GiB per process), CPU {limits.cpu_percent}% of a core, "
            f"{limits.processes} processes, working folder {limits.work_bytes / 2**20:g} MiB, /tmp and HOME "
            f"{limits.tmp_bytes / 2**20:g} MiB; {enforced} (change with {ENV_USER_LIMITS})")


def parallel_bounded(limits: Limits | None = None) -> bool:
    """Whether every per-submission limit (memory, CPU, processes) is a cgroup here (a trial group is made).

    Without them the limits are per process, and RLIMIT_NPROC counts every process of one uid: submissions
    graded side by side could exceed the memory budget together or starve each other of processes, so
    :func:`autograder.commands.grade.grade` then grades one submission at a time.
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
    is filled when the block ends: peak memory and OOM kills of the submission, where cgroups work.
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

    ``work`` is the one host folder the kernels may write, for their sockets (short path: unix socket
    paths are limited to 107 bytes); a kernelspec is written next to it, in ``work.parent/jupyter``.
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
    os.chmod(work, 0o711)  # traversable by bwrap, which runs as root without CAP_DAC_OVERRIDE
    if limits.uid and os.geteuid() == 0:
        os.chown(work, limits.uid, limits.gid)  # the kernel creates its ipc sockets here
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
    """Where :func:`sandboxed` keeps its folder: ``/dev/shm`` (memory, so what a kernel writes to its socket
    folder is charged to its memory cgroup, never the disk) when usable, else the system temp dir."""
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
        run.cgroups = cgroups.describe()
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
        cgroups.close()
        shutil.rmtree(top, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------
# output budget


def _size(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(len(k) + _size(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(_size(v) for v in value)
    return 8


def _shorten(text: Any, limit: int) -> Any:
    if isinstance(text, str) and len(text) > limit:
        return text[:limit] + f"... [{len(text) - limit} characters cut by the grader]"
    return text


SKIPPED_NOTE = "(not run by the grader: no test depends on this cell; run it in JupyterLab to see it)\n"


def skipped_cells(nb: NotebookNode) -> set[int]:
    """Indices of the locked cells that grading does not need (:func:`autograder.notebook.dependencies.needed_cells`).

    Test cells, answer cells and every cell a student can edit always run; a locked cell (restored from the
    source by nbgrader before execution) is skipped when no later cell that runs reads what it defines.
    """

    code = [(i, c) for i, c in enumerate(nb.cells) if c.get("cell_type") == "code"]

    def always(cell: NotebookNode) -> bool:
        m = meta(cell)
        return bool(m.get("grade") or m.get("solution") or not m.get("locked"))

    keep = needed_cells([(always(c), c.get("source", "")) for _, c in code])
    return {i for (i, _), k in zip(code, keep, strict=True) if not k}


class CappedExecute(Execute):
    """nbgrader's ``Execute`` that stops recording output past a budget (characters, per cell and per notebook).

    Past the budget, one stdout note says so and further output is dropped, except what decides a score:
    an ``error`` (shortened), the ``execute_result`` (its text/plain, shortened) and the first stderr stream
    (shortened) are still recorded, once each per cell, so truncation never turns a failed test into a pass.
    """

    max_cell_output_bytes = Integer(1 * 2**20, help="Output recorded per cell (characters)").tag(config=True)
    max_notebook_output_bytes = Integer(8 * 2**20, help="Output recorded per notebook").tag(config=True)
    kept_after_budget = Integer(2000, help="Characters kept of an error/result/stderr past the budget").tag(
        config=True
    )

    skip_unneeded = Bool(
        False, help="Skip locked cells no graded or student cell depends on (drawings, widgets)"
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> tuple[NotebookNode, Any]:
        """Run the notebook with fresh budgets (and, with ``skip_unneeded``, only the cells grading needs)."""
        self._notebook_bytes = 0
        self._cell_bytes: dict[int, int] = {}
        self._truncated: dict[int, set[str]] = {}
        self._skip = skipped_cells(nb) if self.skip_unneeded else set()
        for cell in nb.cells:  # nbclient skips cells tagged so: a student could tag a test cell and pass it
            tags = cell.get("metadata", {}).get("tags")
            if isinstance(tags, list) and self.skip_cells_with_tag in tags:
                cell.metadata.tags = [t for t in tags if t != self.skip_cells_with_tag]
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> tuple[NotebookNode, Any]:
        """Execute one cell with a fresh per-cell budget; a skipped cell gets a one-line note instead."""
        if index in getattr(self, "_skip", ()):
            cell.outputs = [NotebookNode(output_type="stream", name="stdout", text=SKIPPED_NOTE)]
            return cell, resources
        self._cell_bytes = getattr(self, "_cell_bytes", {})
        self._truncated = getattr(self, "_truncated", {})
        self._notebook_bytes = getattr(self, "_notebook_bytes", 0)
        self._cell_bytes[index] = 0
        self._truncated.pop(index, None)
        return super().preprocess_cell(cell, resources, index)

    def _room(self, cell_index: int) -> int:
        cell_used = self._cell_bytes.get(cell_index, 0)
        return min(self.max_cell_output_bytes - cell_used, self.max_notebook_output_bytes - self._notebook_bytes)

    def output(
        self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        """Record an output only while within budget (see the class docstring)."""
        if not hasattr(self, "_cell_bytes"):
            self._cell_bytes, self._truncated, self._notebook_bytes = {}, {}, 0
        content = msg.get("content", {})
        kind = msg["msg_type"] + (f":{content.get('name')}" if msg["msg_type"] == "stream" else "")
        size = _size(content)
        room = self._room(cell_index)
        kept = self._truncated.get(cell_index)
        if kept is None and size <= room:
            self._cell_bytes[cell_index] = self._cell_bytes.get(cell_index, 0) + size
            self._notebook_bytes += size
            return super().output(outs, msg, display_id, cell_index)

        if kept is None:  # the budget runs out in this message: keep what fits of a stream, then a note
            kept = self._truncated[cell_index] = set()
            cell_room = self.max_cell_output_bytes - self._cell_bytes.get(cell_index, 0)
            budget = self.max_cell_output_bytes if cell_room <= room else self.max_notebook_output_bytes
            head = None
            if msg["msg_type"] == "stream" and room > 0:
                head = {**msg, "content": {**content, "text": content.get("text", "")[:room]}}
                super().output(outs, head, display_id, cell_index)
                kept.add(kind)
            self._notebook_bytes += max(room, 0)
            self._cell_bytes[cell_index] = self.max_cell_output_bytes
            note = f"\n[output truncated by the grader after {budget / 2**20:g} MB]\n"
            outs.append(NotebookNode(output_type="stream", name="stdout", text=note))
            if head is not None:
                return None
        if kind not in ("error", "execute_result", "stream:stderr") or kind in kept:
            return None
        kept.add(kind)  # what decides a score is always recorded, shortened
        c, limit = dict(content), self.kept_after_budget  # new values below: the message is not modified
        short = {**{k: v for k, v in msg.items() if k != "buffers"}, "content": c}
        if kind == "error":
            c["evalue"] = _shorten(c.get("evalue", ""), limit)
            tb = [_shorten(line, limit) for line in c.get("traceback", [])]
            c["traceback"] = tb[:10] + ["..."] + tb[-10:] if len(tb) > 20 else tb
        elif kind == "execute_result":
            c["data"] = {"text/plain": _shorten(c.get("data", {}).get("text/plain", ""), limit)}
            c["metadata"] = {}
        else:
            c["text"] = _shorten(c.get("text", ""), limit)
        return super().output(outs, short, display_id, cell_index)

    def _update_display_id(self, display_id: str, msg: dict[str, Any]) -> None:
        """Apply a display update only if it fits the notebook's remaining budget."""
        size = _size(msg.get("content", {}))
        used = getattr(self, "_notebook_bytes", 0)
        if used + size > self.max_notebook_output_bytes:
            return
        self._notebook_bytes = used + size
        super()._update_display_id(display_id, msg)


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
