"""A sandboxed kernel's ipc sockets, bound by the trusted launcher outside the sandbox.

Jupyter's ``ipc`` transport names five unix sockets ``<ip>-<port>`` in the connection file. If the kernel
bound them itself, the folder holding them would have to be writable inside the sandbox, and a folder of
the host's ``/dev/shm`` would take whatever the kernel wrote there (2.4 GB in the issue). Instead the
launcher (:mod:`autograder.isolation.sandbox_kernel`) binds and listens on each path itself, and the
kernel receives the listening descriptors (inherited) with a map ``{"ipc://<path>": fd}``;
:func:`autograder.isolation.sandbox_init.start_kernel` hands each to libzmq (``ZMQ_USE_FD``) when ipykernel
binds that address. The socket folder is not in the sandbox's view at all.

Standard library only: the launcher imports this module on every kernel start.
"""

from __future__ import annotations

import contextlib
import json
import socket
from pathlib import Path

from autograder.isolation.limits import SandboxError

__all__ = ["PORT_KEYS", "bind_kernel_sockets"]

PORT_KEYS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")


def bind_kernel_sockets(connection_file: Path, work: Path) -> dict[str, int]:
    """Bind and listen on the connection file's ipc sockets (inside ``work``); ``{"ipc://<path>": fd}``.

    The descriptors are inheritable, so that they survive the exec into bwrap and the kernel. A stale
    socket file of an earlier kernel with the same ports (a restart) is replaced.
    """
    info = json.loads(connection_file.read_text())
    if info.get("transport") != "ipc":
        raise SandboxError("a sandboxed kernel needs KernelManager.transport = 'ipc' (TCP cannot cross its "
                           f"network namespace), not {info.get('transport')!r}")
    fds: dict[str, int] = {}
    for key in PORT_KEYS:
        address = f"{info['ip']}-{int(info[key])}"  # as ipykernel spells it
        path = Path(address)
        if path.parent.resolve() != work:
            raise SandboxError(f"the kernel's socket {path} is not in the socket folder {work}")
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        sock.listen(128)
        sock.set_inheritable(True)
        fds[f"ipc://{address}"] = sock.detach()
    return fds
