"""Run a notebook's code cells in-process and score its test cells as nbgrader does: fast, for authors.

:func:`run_in_process` ``exec``s each code cell in one fresh namespace instead of starting a kernel, and
scores a graded test cell the way nbgrader does (an exception *or* any text on stderr gives 0 points).
It runs the author's own (trusted) source notebook only, never a student's: what makes the mutation
benchmark fast (``python -m benchmarks.mutation``); ``backprop-course lint-source`` grades for real.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from autograder.authoring.exercises import is_demo
from autograder.notebook.cells import is_test, meta

__all__ = ["CellResult", "CellTimeout", "python_source", "run_in_process"]


class CellTimeout(Exception):
    """A cell ran longer than the runner's time limit (for example a mutant that loops forever)."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def _raise(signum, frame):  # pragma: no cover - only on a hanging mutant
        raise CellTimeout(f"cell ran longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class CellResult:
    """What happened to one graded test cell."""

    grade_id: str
    points: float
    passed: bool
    error: str = ""


class _NoShell:
    """Stands in for IPython's ``get_ipython()`` in-process: line magics (``%matplotlib inline``) do nothing."""

    def run_line_magic(self, *args: object, **kwargs: object) -> None:
        return None


def python_source(source: str) -> str:
    """A cell's source as plain Python: IPython magics become ``get_ipython()`` calls."""
    if "%" not in source and "!" not in source:
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def run_in_process(
    cells: Sequence,
    *,
    cwd: Path,
    skip_demo: bool = True,
    stop_after: set[str] | None = None,
    timeout: float = 20.0,
) -> dict[str, CellResult]:
    """Execute the code cells of a notebook in one fresh namespace, in order, and score its test cells.

    ``cells`` are nbformat cells (sources may have been replaced, e.g. by a mutant). A test cell earns its
    points if it raises nothing and writes nothing to stderr (nbgrader's rule). Other cells may fail: the
    run goes on, as ``allow_errors`` would. ``stop_after``: stop as soon as one of these test cells has
    failed (enough to know that a mutant is killed). Demo cells are skipped unless ``skip_demo`` is False.
    """
    shell = _NoShell()
    namespace: dict = {"__name__": "__main__", "get_ipython": lambda: shell}
    results: dict[str, CellResult] = {}
    sink_out = io.StringIO()
    old_cwd = Path.cwd()
    sys_path = list(sys.path)
    try:
        os.chdir(cwd)
        with warnings.catch_warnings():
            _fresh_kernel_warnings()
            for cell in cells:
                if cell.cell_type != "code" or (skip_demo and is_demo(cell)):
                    continue
                err = io.StringIO()
                error = ""
                try:
                    name = f"<cell {meta(cell).get('grade_id', '?')}>"
                    # dont_inherit: this module's `from __future__ import annotations` must not reach the
                    # cells (a kernel evaluates annotations, so an undefined name in one raises there)
                    code = compile(python_source(cell.source), name, "exec", dont_inherit=True)
                    with contextlib.redirect_stdout(sink_out), contextlib.redirect_stderr(err), _time_limit(timeout):
                        exec(code, namespace)
                except BaseException as exc:
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    error = f"{type(exc).__name__}: {exc}"
                if is_test(cell):
                    info = meta(cell)
                    stderr = err.getvalue()
                    passed = not error and not stderr
                    results[info["grade_id"]] = CellResult(
                        info["grade_id"], float(info.get("points", 0)), passed, error or stderr.strip()
                    )
                    if stop_after and not passed and info["grade_id"] in stop_after:
                        break
                sink_out.seek(0)
                sink_out.truncate()
    finally:
        os.chdir(old_cwd)
        sys.path[:] = sys_path
        _close_figures()
    return results


def _fresh_kernel_warnings() -> None:
    """Warning filters as in a fresh kernel, shown on (the current) sys.stderr, as a kernel shows them.

    Pytest records warnings instead of printing them; a notebook cell would print them to stderr, and
    nbgrader would score that cell 0, so the runner must see them.
    """
    warnings.resetwarnings()
    warnings.simplefilter("default")
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.filterwarnings("ignore", category=category)

    def show(message, category, filename, lineno, file=None, line=None):
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = show


def _close_figures() -> None:
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
