"""Running a long-lived child program (JupyterLab) in the foreground until it stops.

Shared by ``backprop-course lab`` (students) and ``backprop-course formgrader`` (instructors).
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["run_foreground"]


def run_foreground(command: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run ``command`` until it exits and return its status.

    Ctrl+C reaches the child too (same terminal), which decides whether to stop (JupyterLab asks); SIGTERM
    is passed on. Whatever way this returns, the child is stopped: terminated, then killed after 20 s.
    """
    proc = subprocess.Popen(list(command), cwd=cwd, env=dict(env) if env is not None else None)
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: proc.send_signal(signum))
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:  # the child got the same Ctrl+C and decides whether to stop
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
