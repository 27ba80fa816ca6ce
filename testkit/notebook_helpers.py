"""Helpers shared by the notebook tests and ``benchmarks/mutation.py``: find the course notebooks, read
their nbgrader metadata, group cells into exercises, and run a notebook's code cells in-process.

The in-process runner (:func:`run_in_process`) is what makes mutation testing fast: it ``exec``s each code
cell in one fresh namespace instead of starting a kernel, and scores a graded test cell the way nbgrader
does (an exception *or* any text on stderr gives 0 points).
"""

from __future__ import annotations

import contextlib
import io
import re
import signal
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.notebook.cells import is_answer, is_test, meta

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ASSIGNMENTS = ("00-start-here", "01-chain-rule", "02-sigmoid-chain", "03-many-paths", "04-all-parameters",
               "05-write-the-engine")

#: ``## Exercise 2.3 — dL/dw1 (3 points)``
EXERCISE_RE = re.compile(r"^## Exercise (?P<number>\d+\.\d+) — (?P<title>.+) \((?P<points>\d+(?:\.\d+)?) points?\)\s*$")


def notebook_paths() -> list[Path]:
    """``notebooks/<assignment>/<notebook>.ipynb`` for every assignment, in course order."""
    paths = []
    for assignment in ASSIGNMENTS:
        found = sorted((NOTEBOOKS / assignment).glob("*.ipynb"))
        paths.extend(p for p in found if ".ipynb_checkpoints" not in p.parts)
    return paths


def nbgrader_meta(cell) -> dict:
    """The cell's ``nbgrader`` metadata (empty dict if it has none): :func:`autograder.notebook.cells.meta`."""
    return meta(cell)


def is_demo(cell) -> bool:
    """An ungraded illustration (figure, widget, training run): tagged ``demo``; no test depends on it."""
    return "demo" in cell.get("metadata", {}).get("tags", [])


@dataclass
class Exercise:
    """One ``## Exercise N.M — title (P points)`` heading and the cells under it."""

    number: str
    title: str
    points: float
    answer_ids: list[str] = field(default_factory=list)
    tests: dict[str, float] = field(default_factory=dict)  # grade_id -> points


def exercises(nb) -> list[Exercise]:
    """The exercises of a notebook, in order. Cells belong to the latest exercise heading; any other
    level-2 heading ends the exercise."""
    out: list[Exercise] = []
    current: Exercise | None = None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                m = EXERCISE_RE.match(line.strip())
                if m:
                    current = Exercise(m["number"], m["title"], float(m["points"]))
                    out.append(current)
                elif line.startswith("## "):
                    current = None
            continue
        if current is None:
            continue
        if is_answer(cell):
            current.answer_ids.append(nbgrader_meta(cell)["grade_id"])
        elif is_test(cell):
            meta = nbgrader_meta(cell)
            current.tests[meta["grade_id"]] = float(meta.get("points", 0))
    return out


def read(path: Path):
    """Read a notebook (nbformat 4)."""
    return nbformat.read(str(path), as_version=4)


# ---------------------------------------------------------------------------------------------- in-process
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
        import os

        os.chdir(cwd)
        with warnings.catch_warnings():
            _fresh_kernel_warnings()
            for cell in cells:
                if cell.cell_type != "code" or (skip_demo and is_demo(cell)):
                    continue
                err = io.StringIO()
                error = ""
                try:
                    name = f"<cell {nbgrader_meta(cell).get('grade_id', '?')}>"
                    # dont_inherit: this module's `from __future__ import annotations` must not reach the
                    # cells (a kernel evaluates annotations, so an undefined name in one raises there)
                    code = compile(python_source(cell.source), name, "exec", dont_inherit=True)
                    with contextlib.redirect_stdout(sink_out), contextlib.redirect_stderr(err), _time_limit(timeout):
                        exec(code, namespace)
                except BaseException as exc:  # a student's (or mutant's) cell may raise anything
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    error = f"{type(exc).__name__}: {exc}"
                if is_test(cell):
                    meta = nbgrader_meta(cell)
                    stderr = err.getvalue()
                    passed = not error and not stderr
                    results[meta["grade_id"]] = CellResult(
                        meta["grade_id"], float(meta.get("points", 0)), passed, error or stderr.strip()
                    )
                    if stop_after and not passed and meta["grade_id"] in stop_after:
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


# ---------------------------------------------------------------------------------------------- kernels
def kernel_env() -> dict[str, str]:
    """Environment for notebook kernels and nbgrader: course_lib importable, the venv's bin/ on PATH
    (nbgrader shells out to ``alembic`` by name)."""
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    return env


def execute(nb, cwd: Path, *, allow_errors: bool = False, timeout: int = 60):
    """Run ``nb`` (modified in place) top to bottom in a fresh ``python3`` kernel; return seconds taken."""
    import time

    from nbclient import NotebookClient

    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
        resources={"metadata": {"path": str(cwd)}},
    )
    start = time.perf_counter()
    client.execute(env=kernel_env())
    return time.perf_counter() - start


def outputs_of(cell, kind: str) -> list:
    """The outputs of a code cell of one kind: "error", "stderr" or "execute_result"."""
    out = []
    for o in cell.get("outputs", []):
        is_stderr = o.output_type == "stream" and o.get("name") == "stderr"
        if (kind == "stderr" and is_stderr) or o.output_type == kind:
            out.append(o)
    return out
