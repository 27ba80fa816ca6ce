"""Writing files so a reader never sees half of one, and two writers never share a temporary file.

:func:`atomic_write_text` and :func:`atomic_write_bytes` write the whole content to a new temporary file in
the destination's folder (a unique name from :func:`tempfile.mkstemp`, so two processes writing the same file
never write into one temporary file), flush it to disk (``fsync``) and then ``os.replace`` it over the
destination: a reader sees the old file or the new one, and a crash leaves no half-written file under the
real name. :func:`atomic_path` does the same for code that writes a file itself (a zip, say).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text"]


@contextlib.contextmanager
def atomic_path(path: str | Path, mode: int | None = None) -> Iterator[Path]:
    """Yield a fresh temporary path next to ``path``; when the block ends without error it becomes ``path``.

    The caller writes the temporary file (it exists, empty); it is then flushed to disk and renamed over
    ``path`` in one step. On an error it is removed and ``path`` is left as it was. ``mode`` (e.g. ``0o600``)
    is set before the rename; otherwise the file gets the usual permissions (the umask's), as ``open`` would.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, mode if mode is not None else 0o666 & ~_umask())
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, mode: int | None = None) -> Path:
    """Replace ``path`` with ``data`` in one step (see :func:`atomic_path`); returns ``path``."""
    with atomic_path(path, mode) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8", mode: int | None = None) -> Path:
    """Replace ``path`` with ``text`` in one step (see :func:`atomic_path`); returns ``path``."""
    return atomic_write_bytes(path, text.encode(encoding), mode)


def _umask() -> int:
    """The process's umask, read without changing it (``os.umask`` would, briefly, for every thread)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
