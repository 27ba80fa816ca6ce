"""Start a Jupyter kernel inside a bubblewrap sandbox: the launcher behind the ``backprop-sandbox`` kernelspec.

Jupyter runs ``python -I -m autograder.isolation.sandbox_kernel -f {connection_file} [ipykernel options]`` with the
notebook's folder as working directory. This process is trusted: it runs as the grader, outside the sandbox,
with imports kept to the standard library so that it starts fast. It reads its policy from environment
variables set by the grader (see :func:`autograder.isolation.sandbox.sandbox_config`):

``BACKPROP_SANDBOX_WORK``
    The folder of the kernel's ipc sockets (``KernelManager.ip`` points into it): the launcher binds them
    there and hands them to the kernel as descriptors (:mod:`~autograder.isolation.kernel_sockets`); the
    folder itself is not in the kernel's view.
``BACKPROP_SANDBOX_NOTEBOOKS``
    The launcher refuses to start a kernel unless its working directory is inside this folder.
``BACKPROP_SANDBOX_READONLY``
    ``os.pathsep``-separated paths bound read-only (Python's prefixes, the venv's real path, course_lib).
``BACKPROP_SANDBOX_HIDE``
    ``os.pathsep``-separated paths hidden behind an empty tmpfs (a file: behind ``/dev/null``) where they
    fall inside a read-only bind (everything else of the host is not in the view at all).
``BACKPROP_SANDBOX_CGROUPS``
    ``os.pathsep``-separated cgroup folders of the submission (made by :class:`SubmissionCgroups`): the
    launcher moves itself into them, so the kernel and every process it forks share one memory, CPU and
    process budget. Empty: no cgroup could be written (rlimits only).
``BACKPROP_SANDBOX_LIMITS``
    JSON of :class:`Limits`.
``BACKPROP_SANDBOX_MPL_FONTLIST``
    Optional: matplotlib's font cache, copied into the kernel's fresh ``HOME`` (else matplotlib rebuilds it
    and says so on stderr, which nbgrader scores as a failed test).

The kernel's view is built from nothing (an allow-list): bwrap starts from an empty root and binds
read-only only the system folders programs need (:data:`SYSTEM_PATHS`: ``/usr/bin``, ``/usr/lib*``, a few
``/usr/share`` folders, ``/etc`` essentials such as ``ld.so.cache``, certificates and fonts), Python's
prefixes, the virtual environment's real path and the ``course_lib`` package folder (``autograder`` too in
exec mode), plus a synthetic ``/etc/passwd``. The working directory (same path as the notebook folder) is a
fresh tmpfs of ``Limits.work_bytes`` filled with a copy of the notebook folder (no notebooks, no symlinks);
``/tmp`` (which holds ``HOME``) and ``/dev/shm`` are tmpfs of ``Limits.tmp_bytes``. Nothing the kernel writes
reaches the host: no host folder is writable in the view.

Two ways to run, chosen by who runs the launcher:

* **as root**: bwrap runs as root and ``setpriv`` drops the kernel to ``Limits.uid`` (65534, "nobody")
  with no capabilities (``Limits.uid = 0`` keeps root inside with every capability dropped: weaker).
* **rootless** (any other user, where the kernel allows unprivileged user namespaces): bwrap adds
  ``--unshare-user --disable-userns``; the kernel runs as the grader's own uid on the host (shown as
  ``Limits.uid`` inside) with no capabilities, and can therefore only reach what the view holds.

``python -I -m autograder.isolation.sandbox_kernel --exec -- COMMAND...`` runs any other command the same way (the
re-check's student host): open file descriptors are inherited, no socket folder is bound.

Processes: the submission's cgroup ``pids.max``; without a writable pids cgroup, rootless, ``RLIMIT_NPROC``
set inside the sandbox's user namespace (counted per namespace: this submission's alone); as root, on the
kernel's uid (shared by all its processes), and a root kernel is refused. Memory: the cgroup's, else a
watchdog (:mod:`~autograder.isolation.memory_watch`). Rootless, pid 1 is :mod:`~autograder.isolation.sandbox_init`.
"""

from __future__ import annotations

import enum
import json
import os
import resource
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autograder.isolation.cgroups import CGROUP_GROUP, SubmissionCgroups, cleanup_cgroups, join_cgroups
from autograder.isolation.kernel_sockets import bind_kernel_sockets
from autograder.isolation.limits import ENV_USER_LIMITS, MIB, Limits, SandboxError
from autograder.isolation.memory_watch import STOPPED_NOTE, start_watchdog
from autograder.isolation.sandbox_input import ENV_MPL_FONTLIST, HOME, chown_tree, fill_input, write_accounts

__all__ = [
    "CGROUP_GROUP",
    "ENV_CGROUPS",
    "ENV_HIDE",
    "ENV_LIMITS",
    "ENV_MPL_FONTLIST",
    "ENV_NOTEBOOKS",
    "ENV_READONLY",
    "ENV_USER_LIMITS",
    "ENV_WORK",
    "SYSTEM_PATHS",
    "Limits",
    "SandboxError",
    "SubmissionCgroups",
    "Launch",
    "Mount",
    "build_bwrap_command",
    "cleanup_cgroups",
    "main",
    "prepare",
]

ENV_WORK = "BACKPROP_SANDBOX_WORK"
ENV_NOTEBOOKS = "BACKPROP_SANDBOX_NOTEBOOKS"
ENV_HIDE = "BACKPROP_SANDBOX_HIDE"
ENV_READONLY = "BACKPROP_SANDBOX_READONLY"
ENV_CGROUPS = "BACKPROP_SANDBOX_CGROUPS"
ENV_LIMITS = "BACKPROP_SANDBOX_LIMITS"
INPUT = Path("/run/sandbox-input")  # inside the sandbox: read-only copy of the notebook folder and HOME seed
INIT = Path("/run/sandbox-init.py")  # inside the sandbox: autograder/isolation/sandbox_init.py, read-only

# What of the host every sandboxed program may read (those that exist; symlinks are recreated as symlinks).
SYSTEM_PATHS = (
    "/bin", "/lib", "/lib32", "/lib64", "/libx32",
    "/usr/bin", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libx32", "/usr/libexec",
    "/usr/local/bin", "/usr/local/lib",
    "/usr/share/ca-certificates", "/usr/share/fonts", "/usr/share/fontconfig", "/usr/share/zoneinfo",
    "/usr/share/locale", "/usr/share/terminfo", "/usr/share/matplotlib",
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/nsswitch.conf", "/etc/host.conf",
    "/etc/hosts", "/etc/localtime", "/etc/timezone", "/etc/ssl/certs", "/etc/ssl/openssl.cnf",
    "/etc/ca-certificates", "/etc/pki/tls/certs", "/etc/fonts", "/etc/mime.types", "/etc/alternatives",
    "/etc/os-release", "/etc/matplotlibrc",
)

def _paths(value: str | None) -> list[Path]:
    return [Path(p) for p in (value or "").split(os.pathsep) if p]


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _depth(path: Path) -> int:
    return len(path.parts)


class Mount(enum.IntEnum):
    """What one entry of the sandbox's view is; the order in which mounts at one depth are applied."""

    TMPFS = 0  # a fresh tmpfs (size-limited)
    BIND = 1  # a host path bound in (read-only unless ``--bind``)


MountOp = tuple[Path, Mount, list[str]]  # (target inside, kind, bwrap arguments)


def _view_ops(*, system: Iterable[str], readonly: Iterable[Path], hide: Iterable[Path], limits: Limits, cwd: Path,
              input_dir: Path, extra_files: Mapping[Path, Path]) -> tuple[list[MountOp], list]:
    """The mounts of the view, parents first, and the system symlinks to recreate ``(path, target)``."""
    ops: list[MountOp] = []
    symlinks = []
    for name in system:
        p = Path(name)
        if p.is_symlink():
            symlinks.append((p, os.readlink(p)))
        elif p.exists():
            ops.append((p, Mount.BIND, ["--ro-bind", str(p), str(p)]))
    for p in sorted({Path(p) for p in readonly}):
        ops.append((p, Mount.BIND, ["--ro-bind", str(p), str(p)]))
    bound = [t for t, kind, _ in ops if kind is Mount.BIND]
    for p in sorted({Path(p) for p in hide}):
        if any(b in p.parents for b in bound):
            if p.is_dir():
                ops.append((p, Mount.TMPFS, ["--size", str(MIB), "--tmpfs", str(p)]))
            elif p.exists():
                ops.append((p, Mount.BIND, ["--ro-bind", "/dev/null", str(p)]))
    tmp = str(limits.tmp_bytes)
    ops.append((Path("/tmp"), Mount.TMPFS, ["--perms", "1777", "--size", tmp, "--tmpfs", "/tmp"]))
    ops.append((Path("/dev/shm"), Mount.TMPFS, ["--perms", "1777", "--size", tmp, "--tmpfs", "/dev/shm"]))
    ops.append((cwd, Mount.TMPFS, ["--perms", "1777", "--size", str(limits.work_bytes), "--tmpfs", str(cwd)]))
    ops.append((INPUT, Mount.BIND, ["--ro-bind", str(input_dir), str(INPUT)]))
    for host, inside in extra_files.items():
        ops.append((Path(inside), Mount.BIND, ["--ro-bind", str(host), str(inside)]))
    ops.sort(key=lambda op: (_depth(op[0]), op[1], str(op[0])))
    return ops, symlinks


def _mount_args(ops: Sequence[MountOp], symlinks: Sequence[tuple[Path, str]], writable: Iterable[Path]) -> list[str]:
    """bwrap arguments that apply ``ops`` (missing parent folders made 0755), the symlinks, then read-only
    remounts of every tmpfs but ``writable``."""
    cmd = ["--dev", "/dev", "--proc", "/proc"]
    made: set[Path] = {Path("/"), Path("/dev"), Path("/proc")}
    mounted: list[tuple[Path, bool]] = []  # (target, is a tmpfs)

    def parents(target: Path) -> None:
        for parent in reversed(target.parents):
            if parent in made:
                continue
            inner = [m for m in mounted if _inside(parent, m[0])]
            if inner and not max(inner, key=lambda m: _depth(m[0]))[1]:
                continue  # inside a read-only bind: it exists there (or cannot be made anyway)
            cmd.extend(["--perms", "0755", "--dir", str(parent)])
            made.add(parent)

    for target, kind, args in ops:
        parents(target)
        cmd.extend(args)
        mounted.append((target, kind is Mount.TMPFS))
        made.add(target)
    for p, link_target in symlinks:
        parents(p)
        cmd += ["--symlink", link_target, str(p)]
    keep = set(writable)
    for target, kind, _ in ops:
        if kind is Mount.TMPFS and target not in keep:
            cmd += ["--remount-ro", str(target)]
    return cmd


def _sandbox_env(python_bin: Path) -> dict[str, str]:
    """The whole environment of the sandboxed process (bwrap ``--clearenv`` first)."""
    return {
        "PATH": os.pathsep.join([str(python_bin), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(HOME),
        "USER": "sandbox",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(HOME / ".matplotlib"),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # else ipykernel's debugger warns about frozen modules
        # its parent is the namespace's init (pid 1): ipykernel then neither polls for it nor prints a banner
        "JPY_PARENT_PID": "1",
        # one BLAS/OpenMP thread: fair timing next to other graders, and well under pids.max
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def build_bwrap_command(
    *,
    bwrap: str,
    kernel: Sequence[str],
    cwd: Path,
    input_dir: Path,
    readonly: Iterable[Path],
    limits: Limits,
    rootless: bool,
    setpriv: str | None,
    python_bin: Path,
    python: str | None = None,
    hide: Iterable[Path] = (),
    system: Iterable[str] = SYSTEM_PATHS,
    extra_files: Mapping[Path, Path] | None = None,
    nproc_inside: bool = False,
) -> list[str]:
    """The bwrap command line that runs ``kernel`` sandboxed (pure but for reading which system paths exist).

    The view starts empty: ``system`` paths that exist (symlinks recreated), ``readonly`` paths, ``input_dir``
    at :data:`INPUT`, :data:`INIT` (:mod:`~autograder.isolation.sandbox_init`), ``extra_files`` (host file ->
    path inside, read-only), ``/dev``, ``/proc`` and tmpfs for ``cwd``, ``/tmp`` and ``/dev/shm``: no host
    folder is writable (a kernel's sockets are bound outside and handed in as descriptors). ``hide`` paths
    inside a read-only bind are covered by an empty tmpfs. Mounts are applied parents first; missing parent
    folders are made 0755 so the unprivileged kernel can traverse them.

    Rootless, the sandbox's pid 1 is :data:`INIT` (bwrap ``--as-pid-1``), not dumpable and holding no
    descriptor; with ``nproc_inside`` it sets ``RLIMIT_NPROC`` to ``limits.processes`` inside the user
    namespace, a bound of this sandbox alone. As root, pid 1 is bwrap's own init (root: out of reach of the
    kernel's uid) and ``setpriv`` drops the kernel to ``limits.uid``.
    """
    files = {**(extra_files or {}), Path(__file__).with_name("sandbox_init.py"): INIT}
    ops, symlinks = _view_ops(system=system, readonly=readonly, hide=hide, limits=limits, cwd=cwd,
                              input_dir=input_dir, extra_files=files)
    cmd = [bwrap]
    if rootless:
        cmd += ["--unshare-user", "--disable-userns", "--uid", str(limits.uid), "--gid", str(limits.gid)]
    cmd += _mount_args(ops, symlinks, writable=(Path("/tmp"), Path("/dev/shm"), cwd))
    cmd += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", "sandbox", "--new-session", "--die-with-parent", "--cap-drop", "ALL"]
    if rootless:
        cmd.append("--as-pid-1")  # pid 1 is our init, not bwrap (the user's own process, ptrace-able)
    if setpriv:
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    cmd.append("--clearenv")
    for key, value in _sandbox_env(python_bin).items():
        cmd += ["--setenv", key, value]
    cmd += ["--chdir", str(cwd), "--"]
    if setpriv:
        cmd += [setpriv, f"--reuid={limits.uid}", f"--regid={limits.gid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--"]
    # fill the working folder and HOME from the read-only input, as the kernel's user, then run the kernel
    init = [python or str(python_bin / "python"), "-I", "-S", str(INIT), *(["--pid1"] if rootless else []),
            *(["--nproc", str(limits.processes)] if nproc_inside else []), str(INPUT), str(cwd), str(HOME), "--"]
    return cmd + init + list(kernel)




# ---------------------------------------------------------------------------------------------------------
# launcher


def _parse_args(argv: Sequence[str]) -> tuple[Path | None, list[str]]:
    """(connection file, ipykernel options) for a kernel; (None, command) for ``--exec [--] COMMAND...``."""
    args = list(argv)
    if args[:1] == ["--exec"]:
        command = args[2:] if args[1:2] == ["--"] else args[1:]
        if not command:
            raise SandboxError("--exec needs a command")
        return None, command
    for i, arg in enumerate(args):
        if arg == "-f" and i + 1 < len(args):
            return Path(args[i + 1]), args[:i] + args[i + 2:]
        if arg.startswith("--f="):
            return Path(arg[4:]), args[:i] + args[i + 1:]
    raise SandboxError("usage: python -I -m autograder.isolation.sandbox_kernel -f CONNECTION_FILE [ipykernel options]"
                       "\n       python -I -m autograder.isolation.sandbox_kernel --exec [--] COMMAND [ARGS...]")


def _set_limits(limits: Limits, nproc: bool) -> None:
    def cap(which: int, soft: int, hard: int | None = None) -> None:
        resource.setrlimit(which, (soft, soft if hard is None else hard))

    cap(resource.RLIMIT_AS, limits.memory_bytes)
    cap(resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 2)
    cap(resource.RLIMIT_FSIZE, limits.file_bytes)
    cap(resource.RLIMIT_NOFILE, limits.open_files)
    cap(resource.RLIMIT_CORE, 0)
    if nproc:  # per real uid, system-wide: shared by every process running as that uid at the same time
        cap(resource.RLIMIT_NPROC, limits.processes)


@dataclass
class Launch:
    """What :func:`prepare` set up: the command to exec, and what the launcher still does before exec."""

    command: list[str]
    limits: Limits
    nproc_outside: bool  # RLIMIT_NPROC on the launcher (per host uid); rootless sets it inside instead
    watch_memory: bool  # no memory cgroup: a watchdog bounds the submission's memory (memory_watch)
    fds: dict[str, int] = field(default_factory=dict)  # the kernel's listening sockets (kernel_sockets)


def prepare(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> Launch:
    """Set up everything for one sandboxed process (folders, sockets, cgroups) and say how to launch it.

    Kernel mode (``-f CONNECTION_FILE``): the working directory must be inside ``BACKPROP_SANDBOX_NOTEBOOKS``;
    the kernel gets a tmpfs at the same path holding a copy of it, and its sockets bound outside
    (:mod:`~autograder.isolation.kernel_sockets`). Exec mode (``--exec COMMAND``, e.g. the student host): the
    same copy if the working directory is inside that folder, else an empty tmpfs; the ``autograder`` package
    is readable too (the command may be ``python -m autograder.<module>``); open file descriptors are
    inherited. Runs as root (the kernel is dropped to ``Limits.uid``) or rootless.
    """
    connection_file, rest = _parse_args(argv)
    limits = Limits.from_json(environ.get(ENV_LIMITS), environ)
    work, cwd, in_notebooks = _folders(environ, kernel=connection_file is not None)
    bwrap = shutil.which("bwrap")
    if not bwrap:
        raise SandboxError("bubblewrap (bwrap) is not installed")
    rootless = os.geteuid() != 0
    drop = not rootless and limits.uid != 0
    setpriv = shutil.which("setpriv") if drop else None
    if drop and not setpriv:
        raise SandboxError("setpriv (util-linux) is needed to run the kernel as an unprivileged user")
    joined = join_cgroups(_paths(environ.get(ENV_CGROUPS)))
    has_pids = any((cg / "pids.max").exists() for cg in joined)
    if not has_pids and not drop and not rootless:
        raise SandboxError("no writable pids cgroup, and RLIMIT_NPROC does not bind root: refusing to run "
                           "the kernel as root without a process limit (use an unprivileged Limits.uid)")
    box = Path(tempfile.mkdtemp(prefix="box-", dir=work.parent))  # 0700, ours: nothing can race us in it
    given = box / "input"
    cwd = fill_input(given, environ, cwd if in_notebooks else None, limits)
    fds = bind_kernel_sockets(connection_file, work) if connection_file else {}
    command = _command(given, connection_file, rest, fds)
    write_accounts(box, limits)
    if drop:
        chown_tree(given, limits.uid, limits.gid)
    for p in (box, box / "passwd", box / "group"):
        p.chmod(0o755 if p.is_dir() else 0o644)  # bwrap (root without CAP_DAC_OVERRIDE) reads them
    cmd = build_bwrap_command(
        bwrap=bwrap, kernel=command, cwd=cwd, input_dir=given, readonly=_readable(environ, connection_file is None),
        limits=limits, rootless=rootless, setpriv=setpriv, python_bin=Path(sys.executable).parent,
        python=sys.executable, hide=[p.resolve() for p in _paths(environ.get(ENV_HIDE)) if p.exists()],
        extra_files={box / "passwd": Path("/etc/passwd"), box / "group": Path("/etc/group")},
        nproc_inside=rootless and not has_pids,
    )
    has_memory = any((cg / name).exists() for cg in joined for name in ("memory.max", "memory.limit_in_bytes"))
    return Launch(cmd, limits, nproc_outside=not has_pids and not rootless,
                  watch_memory=not has_memory and limits.submission_memory_bytes > 0, fds=fds)


def _readable(environ: Mapping[str, str], exec_mode: bool) -> list[Path]:
    """The read-only paths of the view: the policy's (real paths, and symlinks as named), the autograder
    package in exec mode (no secrets in it)."""
    readonly = [p.resolve() for p in _paths(environ.get(ENV_READONLY)) if p.exists()]
    readonly += [p for p in _paths(environ.get(ENV_READONLY)) if p.is_symlink()]
    if exec_mode:
        readonly.append(Path(__file__).resolve().parents[1])
    return readonly


def _folders(environ: Mapping[str, str], kernel: bool) -> tuple[Path, Path, bool]:
    """The work folder, the working directory, and whether it lies in the notebooks folder (checked)."""
    work = Path(environ.get(ENV_WORK, ""))
    notebooks = Path(environ.get(ENV_NOTEBOOKS, ""))
    if not environ.get(ENV_WORK) or not work.is_absolute() or not work.is_dir():
        raise SandboxError(f"{ENV_WORK} must name an existing absolute folder")
    if not environ.get(ENV_NOTEBOOKS) or not notebooks.is_absolute():
        raise SandboxError(f"{ENV_NOTEBOOKS} must name an absolute folder")
    cwd = Path(os.getcwd()).resolve()
    in_notebooks = _inside(cwd, notebooks.resolve())
    if kernel and not in_notebooks:
        raise SandboxError(f"refusing to run a kernel in {cwd}: not inside {ENV_NOTEBOOKS}={notebooks}")
    return work.resolve(), cwd, in_notebooks


def _command(given: Path, connection_file: Path | None, rest: list[str], fds: Mapping[str, int]) -> list[str]:
    """The command run inside: the kernel with its connection file (copied in) on the sockets ``fds``, or
    the exec command."""
    if connection_file is None:
        return list(rest)
    connection = given / "connection.json"
    connection.write_bytes(connection_file.read_bytes())
    connection.chmod(0o600)
    return [sys.executable, str(INIT), "--kernel", json.dumps(dict(fds)), "--",
            "-f", str(INPUT / "connection.json"), *rest]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: prepare the sandbox and exec the kernel in it (returns only on failure)."""
    try:
        launch = prepare(sys.argv[1:] if argv is None else argv)
    except (SandboxError, OSError) as exc:
        print(f"backprop-sandbox: cannot start the sandboxed process: {exc}", file=sys.stderr)
        return 1
    sys.stdout.flush()
    sys.stderr.flush()
    if launch.watch_memory:
        note = Path(os.environ[ENV_WORK]).parent / STOPPED_NOTE  # sandboxed() reports it in its stats
        start_watchdog(launch.limits.submission_memory_bytes, note)  # before the rlimits: lives as long as bwrap
    _set_limits(launch.limits, nproc=launch.nproc_outside)
    _detach_stdio()
    os.execve(launch.command[0], launch.command, {})  # bwrap: nothing of grade's environment
    return 1  # not reached


def _detach_stdio() -> None:
    """Point fds 0-2 at /dev/null unless they are pipes or sockets: bwrap, the sandbox's pid 1 and the kernel
    hold no host file or terminal (a kernel could otherwise write to the grader's log through ``/proc``;
    rootless, pid 1 also closes its descriptors and is not dumpable: :mod:`~autograder.isolation.sandbox_init`).

    A pipe is kept: whoever started the command reads it (``sandbox_command`` with captured output); the
    kernel's results travel over its ipc sockets, the re-check's host's over the pipes it is given.
    """
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            mode = 0
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
            os.dup2(null, fd)
    if null > 2:
        os.close(null)


if __name__ == "__main__":
    sys.exit(main())
