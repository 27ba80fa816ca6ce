"""What a sandbox starts with: a read-only input folder (a copy of the notebook folder, a seed for ``HOME``)
and its ``/etc/passwd`` and ``/etc/group``, made by the launcher (:mod:`autograder.isolation.sandbox_kernel`)
outside the sandbox; :mod:`autograder.isolation.sandbox_init` copies the input into the sandbox's tmpfs.

Standard library only: the launcher imports this module on every sandbox start.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from autograder.isolation.limits import Limits

__all__ = ["EMPTY_CWD", "ENV_MPL_FONTLIST", "HOME", "chown_tree", "fill_input", "write_accounts"]

ENV_MPL_FONTLIST = "BACKPROP_SANDBOX_MPL_FONTLIST"
HOME = Path("/tmp/home")  # inside the sandbox, on the /tmp tmpfs
EMPTY_CWD = Path("/sandbox")  # exec mode outside the notebooks: an empty tmpfs working directory


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


def chown_tree(top: Path, uid: int, gid: int) -> None:
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)
    os.lchown(top, uid, gid)


def fill_input(given: Path, environ: Mapping[str, str], notebook_cwd: Path | None, limits: Limits) -> Path:
    """Fill the sandbox's input folder (home, matplotlib's font list, a copy of the notebook folder).

    Returns the working directory inside the sandbox: the notebook folder's path, else :data:`EMPTY_CWD`.
    """
    (given / "home" / ".matplotlib").mkdir(parents=True)
    fontlist = environ.get(ENV_MPL_FONTLIST)
    if fontlist and Path(fontlist).is_file():
        shutil.copy(fontlist, given / "home" / ".matplotlib" / Path(fontlist).name)
    if notebook_cwd is not None:
        _copy_folder(notebook_cwd, given / "cwd", limits.copy_bytes)
        return notebook_cwd
    (given / "cwd").mkdir()
    return EMPTY_CWD


def write_accounts(box: Path, limits: Limits) -> None:
    """``/etc/passwd`` and ``/etc/group`` for the sandbox: root and the sandbox user only."""
    name = "sandbox"
    (box / "passwd").write_text(f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
                                f"{name}:x:{limits.uid}:{limits.gid}:{name}:{HOME}:/usr/sbin/nologin\n")
    (box / "group").write_text(f"root:x:0:\n{name}:x:{limits.gid}:\n")
