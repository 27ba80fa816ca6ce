"""Start a Jupyter kernel inside a bubblewrap sandbox: the launcher behind the ``backprop-sandbox`` kernelspec.

Jupyter runs ``python -I -m autograder.isolation.sandbox_kernel -f {connection_file} [ipykernel options]`` with the
notebook's folder as working directory. This process is trusted: it runs as the grader (root), outside the
sandbox, with imports kept to the standard library so that it starts fast. It reads its policy from
environment variables set by the grader (see :func:`autograder.isolation.sandbox.sandbox_config`):

``BACKPROP_SANDBOX_WORK``
    The only writable folder the kernel shares with the grader: the ipc sockets (``KernelManager.ip``
    points into it) and one private folder per kernel (its connection file, ``HOME``, and a copy of the
    notebook folder).
``BACKPROP_SANDBOX_NOTEBOOKS``
    The launcher refuses to start unless the kernel's working directory is inside this folder.
``BACKPROP_SANDBOX_HIDE``
    ``os.pathsep``-separated folders hidden behind an empty read-only tmpfs (a file: behind ``/dev/null``).
``BACKPROP_SANDBOX_READONLY``
    ``os.pathsep``-separated folders bound read-only on top of the hidden ones (Python, the venv, course_lib).
``BACKPROP_SANDBOX_LIMITS``
    JSON of :class:`Limits`.
``BACKPROP_SANDBOX_MPL_FONTLIST``
    Optional: matplotlib's font cache, copied into the kernel's fresh ``HOME`` (else matplotlib rebuilds it
    and says so on stderr, which nbgrader scores as a failed test).

It then joins a fresh cgroup (``pids.max``), sets rlimits, and execs::

    bwrap --ro-bind / / --dev /dev --proc /proc  <tmpfs over hidden folders, private /tmp and /dev/shm>
          <read-only re-binds> --bind WORK WORK --bind <private copy of the notebook folder> <notebook folder>
          --unshare-pid --unshare-net --unshare-ipc --unshare-uts --unshare-cgroup-try --new-session
          --die-with-parent --cap-drop ALL [--cap-add SETUID,SETGID,SETPCAP for setpriv only] --clearenv ...
          --chdir <notebook folder> -- setpriv --reuid 65534 ... -- python -m ipykernel_launcher -f <copy>

``python -I -m autograder.isolation.sandbox_kernel --exec -- COMMAND...`` runs any other command the same way (the
re-check's student host); its open file descriptors are inherited.

The kernel therefore runs as an unprivileged user (``Limits.uid``, default 65534 "nobody") with no
capabilities, ``no_new_privs``, its own pid/network/ipc/uts namespaces, a read-only view of the machine
without the hidden folders, and no way to write anything the grader later reads: the notebook folder it
sees is a private copy (so it cannot plant a symlink where nbgrader writes the graded notebook). With
``Limits.uid = 0`` it stays root inside the sandbox with every capability dropped; that is weaker: uid 0
still owns every root-owned file, so it reads 0600 files such as ``/etc/shadow``, may connect to root-owned
unix sockets left visible, and can set the setuid bit on files it creates.

Processes: a cgroup ``pids.max`` (v1 ``pids`` hierarchy, nested under the launcher's own cgroup; v2 when
the unified hierarchy offers ``pids``). Without a writable pids cgroup the launcher falls back to
``RLIMIT_NPROC`` for the unprivileged uid (per uid, so shared by the kernels running at the same time),
and refuses to start a root kernel, since RLIMIT_NPROC does not bind root.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

__all__ = [
    "CGROUP_GROUP",
    "ENV_HIDE",
    "ENV_LIMITS",
    "ENV_MPL_FONTLIST",
    "ENV_NOTEBOOKS",
    "ENV_READONLY",
    "ENV_WORK",
    "Limits",
    "SandboxError",
    "build_bwrap_command",
    "cleanup_cgroups",
    "main",
    "prepare",
]

ENV_WORK = "BACKPROP_SANDBOX_WORK"
ENV_NOTEBOOKS = "BACKPROP_SANDBOX_NOTEBOOKS"
ENV_HIDE = "BACKPROP_SANDBOX_HIDE"
ENV_READONLY = "BACKPROP_SANDBOX_READONLY"
ENV_LIMITS = "BACKPROP_SANDBOX_LIMITS"
ENV_MPL_FONTLIST = "BACKPROP_SANDBOX_MPL_FONTLIST"
CGROUP_GROUP = "backprop-sandbox"  # our folder in the pids hierarchy; kernels get k-<pid>-<hex> inside it
MIB = 2**20


class SandboxError(Exception):
    """The sandbox cannot be set up as the policy asks; the kernel is not started."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed kernel (each process of it, except ``processes``: the whole tree)."""

    memory_bytes: int = 3 * 2**30  # RLIMIT_AS per process
    cpu_seconds: int = 120  # RLIMIT_CPU per process: SIGXCPU then SIGKILL 2 s later
    file_bytes: int = 64 * MIB  # RLIMIT_FSIZE: largest file the kernel can write
    open_files: int = 1024  # RLIMIT_NOFILE
    processes: int = 256  # cgroup pids.max: processes and threads of the whole kernel tree
    tmp_bytes: int = 256 * MIB  # size of the private /tmp (and of /dev/shm)
    copy_bytes: int = 256 * MIB  # most bytes of the notebook folder copied into the kernel's private copy
    uid: int = 65534  # user the kernel runs as (0: stay root, capabilities dropped)
    gid: int = 65534

    def to_json(self) -> str:
        """The limits as JSON (what ``BACKPROP_SANDBOX_LIMITS`` holds)."""
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str | None) -> Limits:
        """Limits from JSON; missing keys keep their defaults, unknown keys are an error."""
        data = json.loads(text) if text else {}
        known = {f.name for f in fields(Limits)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SandboxError(f"unknown limits in {ENV_LIMITS}: {', '.join(unknown)}")
        bad = sorted(k for k, v in data.items() if not isinstance(v, int) or isinstance(v, bool) or v < 0)
        if bad:
            raise SandboxError(f"limits must be non-negative integers: {', '.join(bad)}")
        return Limits(**data)


def _paths(value: str | None) -> list[Path]:
    return [Path(p) for p in (value or "").split(os.pathsep) if p]


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _depth(path: Path) -> int:
    return len(path.parts)


def _outermost(paths: Iterable[Path], covers: Iterable[Path], binds: Iterable[Path]) -> list[Path]:
    """``paths`` without those already hidden by another one (or by ``covers``), parents first.

    A path inside a hidden folder is kept when a bind brings back a folder between them.
    """
    paths = {Path(p) for p in paths}
    covers, binds = [*paths, *covers], list(binds)
    out = []
    for p in paths:
        hidden_by = [c for c in covers if c in p.parents]
        if any(not any(c in b.parents and _inside(p, b) for b in binds) for c in hidden_by):
            continue
        out.append(p)
    return sorted(out, key=lambda p: (_depth(p), str(p)))


def build_bwrap_command(
    *,
    bwrap: str,
    kernel: Sequence[str],
    cwd: Path,
    private_cwd: Path,
    home: Path,
    work: Path,
    hide: Iterable[Path],
    readonly: Iterable[Path],
    limits: Limits,
    setpriv: str | None,
    python_bin: Path,
    hidden_files: Iterable[Path] = (),
) -> list[str]:
    """The bwrap command line that runs ``kernel`` sandboxed (pure: touches nothing).

    Mounts are applied parents first, so a re-bind inside a hidden folder lands on its tmpfs; folders that
    bwrap must create inside a tmpfs are made 0755 so the unprivileged kernel can traverse them.
    """
    tmp_dirs = [Path("/tmp"), Path("/dev/shm")]
    readonly = sorted({Path(p) for p in readonly})
    binds = [*readonly, work, cwd]
    hide = _outermost(set(hide) - set(tmp_dirs), tmp_dirs, binds)
    hidden_files = _outermost(set(hidden_files), [*hide, *tmp_dirs], binds)
    ops: list[tuple[int, int, list[str], Path]] = []  # (depth, order, args, target)
    for p in hide:
        ops.append((_depth(p), 0, ["--size", str(MIB), "--tmpfs", str(p)], p))
    for p in tmp_dirs:
        ops.append((_depth(p), 0, ["--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", str(p)], p))
    for p in readonly:
        ops.append((_depth(p), 1, ["--ro-bind", str(p), str(p)], p))
    ops.append((_depth(work), 2, ["--bind", str(work), str(work)], work))
    ops.append((_depth(cwd), 2, ["--bind", str(private_cwd), str(cwd)], cwd))
    ops.sort(key=lambda op: (op[0], op[1], str(op[3])))

    cmd = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    mounted: list[tuple[Path, bool]] = []  # (target, is a tmpfs) in the order applied
    for _, order, args, target in ops:
        if order:  # a bind: create its missing parents inside a tmpfs as 0755 (bwrap would make them 0700)
            below = [(m, tmpfs) for m, tmpfs in mounted if m in target.parents]
            if below and max(below, key=lambda m: _depth(m[0]))[1]:  # the innermost mount above it is a tmpfs
                root = max(below, key=lambda m: _depth(m[0]))[0]
                for parent in reversed(target.parents):
                    if root in parent.parents:
                        cmd += ["--perms", "0755", "--dir", str(parent)]
        mounted.append((target, not order))
        cmd += args
    for f in hidden_files:
        cmd += ["--ro-bind", "/dev/null", str(f)]
    for p in hide:
        cmd += ["--remount-ro", str(p)]
    cmd += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", "sandbox", "--new-session", "--die-with-parent", "--cap-drop", "ALL"]
    if setpriv:
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    env = {
        "PATH": os.pathsep.join([str(python_bin), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(home),
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(home / ".matplotlib"),
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
    cmd.append("--clearenv")
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    cmd += ["--chdir", str(cwd), "--"]
    if setpriv:
        cmd += [setpriv, f"--reuid={limits.uid}", f"--regid={limits.gid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--"]
    return cmd + list(kernel)


# ---------------------------------------------------------------------------------------------------------
# cgroup: a pids.max for the whole kernel tree (RLIMIT_NPROC is not enforced for root)


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


def _pids_group_folders() -> list[Path]:
    """Where this process may make pids cgroups: ``<pids hierarchy>/<its own cgroup>/backprop-sandbox``.

    cgroup v1: the ``pids`` hierarchy, nested under the caller's own cgroup. cgroup v2: the unified
    hierarchy's root when it offers the pids controller (a v2 cgroup that holds processes cannot delegate).
    """
    own = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            hid, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else ["" if hid == "0" else hid]:
                own[c] = path
    except (OSError, ValueError):
        return []
    folders = []
    for mount, fstype, options in _mounts():
        if fstype == "cgroup" and "pids" in options.split(","):
            folders.append(Path(mount) / own.get("pids", "/").lstrip("/") / CGROUP_GROUP)
        elif fstype == "cgroup2":
            try:
                controllers = (Path(mount) / "cgroup.controllers").read_text().split()
            except OSError:
                continue
            if "pids" in controllers:
                folders.append(Path(mount) / CGROUP_GROUP)
    return folders


def _join_pids_cgroup(max_pids: int) -> Path | None:
    """Move this process into a new cgroup with ``pids.max = max_pids``; None if no pids controller here."""
    for group in _pids_group_folders():
        for _attempt in range(5):  # a concurrent cleanup_cgroups() may remove an empty folder under us
            cg = group / f"k-{os.getpid()}-{secrets.token_hex(3)}"
            try:
                group.mkdir(exist_ok=True)
                for control in (group.parent / "cgroup.subtree_control", group / "cgroup.subtree_control"):
                    if control.exists() and "pids" not in control.read_text().split():  # v2: delegate pids
                        control.write_text("+pids")
                cg.mkdir()
                (cg / "pids.max").write_text(str(max_pids))
                (cg / "cgroup.procs").write_text(str(os.getpid()))
                return cg
            except FileNotFoundError:
                continue
            except OSError:
                break
    return None


def cleanup_cgroups() -> list[Path]:
    """Remove the empty kernel cgroups this module made (``backprop-sandbox/k-*``); return those removed.

    A cgroup that still holds a process cannot be removed (the kernel refuses), so live kernels are safe.
    """
    removed = []
    for group in _pids_group_folders():
        if not group.is_dir():
            continue
        for cg in sorted(group.glob("k-*")):
            try:
                cg.rmdir()
                removed.append(cg)
            except OSError:
                continue
        with contextlib.suppress(OSError):
            group.rmdir()
    return removed


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


def _copy_folder(src: Path, dest: Path, budget: int) -> int:
    """Copy the regular files and folders of ``src`` (no symlinks, notebooks or checkpoints) into ``dest``.

    At most ``budget`` bytes in all; returns what is left of it.
    """
    dest.mkdir()
    for entry in sorted(os.scandir(src), key=lambda e: e.name):
        if entry.is_symlink() or entry.name == ".ipynb_checkpoints" or entry.name.endswith(".ipynb"):
            continue
        if entry.is_dir(follow_symlinks=False):
            budget = _copy_folder(Path(entry.path), dest / entry.name, budget)
        elif entry.is_file(follow_symlinks=False):
            size = entry.stat(follow_symlinks=False).st_size
            if size > budget:
                print(f"backprop-sandbox: not copied into the sandbox (over the size budget): {entry.path}",
                      file=sys.stderr)
                continue
            budget -= size
            shutil.copy2(entry.path, dest / entry.name, follow_symlinks=False)
    return budget


def _chown_tree(top: Path, uid: int, gid: int) -> None:
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)
    os.lchown(top, uid, gid)


def _set_limits(limits: Limits, nproc: bool) -> None:
    def cap(which: int, soft: int, hard: int | None = None) -> None:
        resource.setrlimit(which, (soft, soft if hard is None else hard))

    cap(resource.RLIMIT_AS, limits.memory_bytes)
    cap(resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 2)
    cap(resource.RLIMIT_FSIZE, limits.file_bytes)
    cap(resource.RLIMIT_NOFILE, limits.open_files)
    cap(resource.RLIMIT_CORE, 0)
    if nproc:  # per real uid, system-wide: shared by every kernel running as that uid at the same time
        cap(resource.RLIMIT_NPROC, limits.processes)


def prepare(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> list[str]:
    """Set up everything for one sandboxed process (folders, cgroup, rlimits) and return the command to exec.

    Kernel mode (``-f CONNECTION_FILE``): the working directory must be inside ``BACKPROP_SANDBOX_NOTEBOOKS``
    and the kernel sees a private copy of it. Exec mode (``--exec COMMAND``, e.g. the re-check's student
    host): a private copy of the working directory if it is inside that folder, else an empty folder; the
    ``autograder`` package is readable too (the command may be ``python -m autograder.<module>``); open file
    descriptors are inherited.
    """
    if os.geteuid() != 0:
        raise SandboxError("the sandbox launcher must run as root (it drops to an unprivileged user itself)")
    connection_file, rest = _parse_args(argv)
    try:
        limits = Limits.from_json(environ.get(ENV_LIMITS))
    except ValueError as exc:
        raise SandboxError(f"{ENV_LIMITS} is not valid JSON: {exc}") from None
    work = Path(environ.get(ENV_WORK, ""))
    notebooks = Path(environ.get(ENV_NOTEBOOKS, ""))
    if not environ.get(ENV_WORK) or not work.is_absolute() or not work.is_dir():
        raise SandboxError(f"{ENV_WORK} must name an existing absolute folder")
    if not environ.get(ENV_NOTEBOOKS) or not notebooks.is_absolute():
        raise SandboxError(f"{ENV_NOTEBOOKS} must name an absolute folder")
    work = work.resolve()
    cwd = Path(os.getcwd()).resolve()
    in_notebooks = _inside(cwd, notebooks.resolve())
    if connection_file is not None and not in_notebooks:
        raise SandboxError(f"refusing to run a kernel in {cwd}: not inside {ENV_NOTEBOOKS}={notebooks}")
    bwrap = shutil.which("bwrap")
    if not bwrap:
        raise SandboxError("bubblewrap (bwrap) is not installed")
    drop = limits.uid != 0
    setpriv = shutil.which("setpriv") if drop else None
    if drop and not setpriv:
        raise SandboxError("setpriv (util-linux) is needed to run the kernel as an unprivileged user")

    hide, hidden_files = [], []
    for p in _paths(environ.get(ENV_HIDE)):
        real = p.resolve()
        if real.is_dir():
            hide.append(real)
        elif real.exists():
            hidden_files.append(real)
    readonly = [p.resolve() for p in _paths(environ.get(ENV_READONLY)) if p.exists()]
    if connection_file is None:
        readonly.append(Path(__file__).resolve().parents[1])  # the autograder package (no secrets in it)

    box = Path(tempfile.mkdtemp(prefix="kernel-", dir=work))  # 0700, ours: nothing can race us in it
    home = box / "home"
    (home / ".matplotlib").mkdir(parents=True)
    fontlist = environ.get(ENV_MPL_FONTLIST)
    if fontlist and Path(fontlist).is_file():
        shutil.copy(fontlist, home / ".matplotlib" / Path(fontlist).name)
    private_cwd = box / "cwd"
    if in_notebooks:
        _copy_folder(cwd, private_cwd, limits.copy_bytes)
    else:
        private_cwd.mkdir()
        cwd = private_cwd
    python = sys.executable
    if connection_file is not None:
        connection = box / "connection.json"
        fd = os.open(connection, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(connection_file.read_bytes())
        command = [python, "-m", "ipykernel_launcher", "-f", str(connection), *rest]
    else:
        command = rest
    if drop:
        _chown_tree(box, limits.uid, limits.gid)
        os.chmod(box, 0o711)  # bwrap (root without CAP_DAC_OVERRIDE) must traverse it to --chdir

    cmd = build_bwrap_command(
        bwrap=bwrap, kernel=command, cwd=cwd, private_cwd=private_cwd, home=home, work=work,
        hide=hide, readonly=readonly, limits=limits, setpriv=setpriv, python_bin=Path(python).parent,
        hidden_files=hidden_files,
    )
    cgroup = _join_pids_cgroup(limits.processes)
    if cgroup is None and not drop:
        raise SandboxError("no writable pids cgroup, and RLIMIT_NPROC does not bind root: refusing to run "
                           "the kernel as root without a process limit (use an unprivileged Limits.uid)")
    _set_limits(limits, nproc=cgroup is None)
    return cmd


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: prepare the sandbox and exec the kernel in it (returns only on failure)."""
    try:
        cmd = prepare(sys.argv[1:] if argv is None else argv)
    except (SandboxError, OSError) as exc:
        print(f"backprop-sandbox: cannot start the sandboxed process: {exc}", file=sys.stderr)
        return 1
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
