"""The first program inside the sandbox, and the kernel's start: standard library only, run as a script.

bwrap runs ``python -I -S /run/sandbox-init.py [--pid1] [--nproc N] INPUT CWD HOME -- COMMAND...`` (see
:func:`autograder.isolation.sandbox_kernel.build_bwrap_command`); this file is bound read-only at that path,
since the ``autograder`` package is not in a kernel's view. It runs as the sandbox's user and:

1. fills the working folder and ``HOME`` (both tmpfs) from the read-only input folder;
2. with ``--nproc N``, sets ``RLIMIT_NPROC`` *inside* the sandbox's user namespace (rootless mode), where
   the kernel counts processes per user namespace: the bound is this submission's alone, and processes of
   other sandboxes of the same host user neither count against it nor are starved by it;
3. with ``--pid1`` (rootless mode, bwrap ``--as-pid-1``), stays the namespace's pid 1: it makes itself not
   dumpable (so the student's processes, the same host user, can neither ptrace it nor open its
   ``/proc/1/environ``, ``/proc/1/mem`` or ``/proc/1/fd/*``), holds no file descriptor, runs ``COMMAND`` as
   its child, reaps orphans and exits with the command's status (the namespace's processes die with it).
   Without ``--pid1`` it execs ``COMMAND`` (root mode: bwrap's own init is pid 1, a root process).

``python /run/sandbox-init.py --kernel FDS -- IPYKERNEL_ARGS...`` starts ipykernel on unix sockets the
trusted launcher bound outside (``FDS``: JSON ``{"ipc://<path>": fd}``, inherited descriptors) with
libzmq's ``ZMQ_USE_FD``: the kernel binds no file of its own, and the socket folder is not in its view.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys

PR_SET_DUMPABLE = 4


def fill(src: str, cwd: str, home: str) -> None:
    """Copy ``src/home`` into ``home`` and ``src/cwd`` into ``cwd`` (symlinks kept as symlinks)."""
    os.makedirs(home, exist_ok=True)
    for a, b in ((os.path.join(src, "home"), home), (os.path.join(src, "cwd"), cwd)):
        for entry in os.scandir(a):  # not copytree(a, b): b is a tmpfs root whose mode is not ours to copy
            try:
                if entry.is_dir(follow_symlinks=False):
                    shutil.copytree(entry.path, os.path.join(b, entry.name), symlinks=True)
                else:
                    shutil.copy2(entry.path, os.path.join(b, entry.name), follow_symlinks=False)
            except (OSError, shutil.Error) as e:
                print("backprop-sandbox: not copied into the sandbox:", str(e)[:300], file=sys.stderr)


def not_dumpable() -> None:
    """``prctl(PR_SET_DUMPABLE, 0)``: only a holder of CAP_SYS_PTRACE (none inside) may inspect this process."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def run_as_init(command: list[str]) -> int:
    """Run ``command`` as this process's child; reap every orphan; return the command's exit status."""
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    os.closerange(0, resource.getrlimit(resource.RLIMIT_NOFILE)[0])  # hold no pipe, socket or file
    while True:
        try:
            died, status = os.wait()
        except ChildProcessError:
            return 1
        except InterruptedError:
            continue
        if died == pid:
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code


def start_kernel(fds: dict[str, int], argv: list[str]) -> None:
    """Run ipykernel with ``argv``, its ipc sockets bound on the inherited descriptors ``fds``."""
    import runpy

    import zmq

    bind = zmq.Socket.bind

    def bind_given(self: zmq.Socket, addr: str) -> object:
        fd = fds.pop(addr, None)
        if fd is not None:
            self.setsockopt(zmq.USE_FD, fd)
        return bind(self, addr)

    zmq.Socket.bind = bind_given  # type: ignore[method-assign,assignment]
    sys.path[0] = os.getcwd()  # as ``python -m ipykernel_launcher`` would: the notebook's folder first
    sys.argv = ["ipykernel_launcher", *argv]
    runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)


def main(argv: list[str]) -> int:
    """Entry point (see the module's docstring)."""
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1:]
    if options[:1] == ["--kernel"]:
        start_kernel({k: int(v) for k, v in json.loads(options[1]).items()}, command)
        return 0
    pid1 = options[:1] == ["--pid1"]
    options = options[pid1:]
    if options[:1] == ["--nproc"]:
        n = int(options[1])
        resource.setrlimit(resource.RLIMIT_NPROC, (n, n))
        options = options[2:]
    if pid1:
        not_dumpable()
    src, cwd, home = options
    fill(src, cwd, home)
    if not pid1:
        os.execvp(command[0], command)
    return run_as_init(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
