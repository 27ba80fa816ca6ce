"""What would stop or spoil a release of a source notebook, each with its cell and the fix.

The checks read the notebook without running it; each :class:`Problem` names the cell (its number as
JupyterLab counts from 1, and its ``grade_id`` or first words) and says what to change. Errors stop
``lint-source`` (and most of them would stop ``release``, where nbgrader says only "see the above
traceback"); warnings are advice. The cell rules themselves are explained in docs/authoring.md.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from autograder.authoring.exercises import EXERCISE_RE, exercises, is_demo
from autograder.errors import CourseError
from autograder.notebook.cells import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    MarkerError,
    grade_id,
    is_answer,
    is_graded,
    is_locked,
    is_test,
    meta,
    regions,
)
from autograder.notebook.dependencies import cell_names, strip_magics
from autograder.notebook.worked import WORKED_TAG, check_worked_cell, is_worked

__all__ = ["Problem", "check_structure", "cell_label"]

_GRADE_ID = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Problem:
    """One finding: ``error`` stops the release or spoils grading; ``warning`` is advice."""

    severity: str  # "error" or "warning"
    notebook: str
    where: str  # "cell 7 (forward-test)" or "the notebook"
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.notebook}, {self.where}: {self.what}\n  fix: {self.fix}"


def cell_label(nb: Any, index: int) -> str:
    """``cell N (grade_id)``, or ``cell N ("first words…")`` for a cell without one; N counts from 1."""
    cell = nb.cells[index]
    gid = grade_id(cell)
    if gid:
        return f"cell {index + 1} ({gid})"
    first = next((line.strip() for line in cell.source.split("\n") if line.strip()), "")
    return f'cell {index + 1} ("{first[:40]}{"…" if len(first) > 40 else ""}")'


def _text(cell: Any) -> str:
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def _metadata_problems(nb: Any, name: str) -> list[Problem]:
    out: list[Problem] = []
    seen: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        info, where = meta(cell), cell_label(nb, i)
        if not info:
            continue
        gid = grade_id(cell)
        if not gid:
            out.append(Problem("error", name, where, "has nbgrader metadata but no grade_id",
                               "give it a unique grade_id (letters, digits, - and _), or remove its nbgrader metadata"))
        elif not _GRADE_ID.match(gid):
            out.append(Problem("error", name, where, f"grade_id {gid!r} has characters nbgrader refuses",
                               "use only letters, digits, - and _ (e.g. backward-test)"))
        elif gid in seen:
            out.append(Problem("error", name, where, f"grade_id {gid!r} is also the id of cell {seen[gid] + 1}",
                               "give each cell its own grade_id (nbgrader keeps one gradebook entry per id)"))
        seen.setdefault(gid, i)
        if is_graded(cell) and not float(info.get("points") or 0) > 0:
            out.append(Problem("error", name, where, "is graded but has no points",
                               'set "points" in its nbgrader metadata (a positive number)'))
        if is_test(cell) and not is_locked(cell):
            out.append(Problem("error", name, where, "is a test cell that is not locked",
                               'set "locked": true, so nbgrader restores it before grading'))
    return out


def _marker_problems(nb: Any, name: str) -> list[Problem]:
    out: list[Problem] = []
    for i, cell in enumerate(nb.cells):
        where, source = cell_label(nb, i), _text(cell)
        for begin, end, kind in ((BEGIN_SOLUTION, END_SOLUTION, "solution"), (BEGIN_HIDDEN, END_HIDDEN, "hidden-test")):
            try:
                found = regions(source, begin, end)
            except MarkerError as exc:
                out.append(Problem("error", name, where, f"its {kind} markers do not pair up ({exc})",
                                   f"close every ### {begin} with its own ### {end}, one region at a time"))
                continue
            manual = is_graded(cell) and cell.cell_type == "code"  # a manually graded answer may hold one
            if found and kind == "solution" and not is_answer(cell) and not manual:
                out.append(Problem("error", name, where, "has a solution region but is not an answer cell",
                                   'mark it an answer cell ("solution": true, "grade": false) or remove the markers'))
            if found and kind == "hidden-test" and not is_test(cell):
                out.append(Problem("error", name, where, "has a hidden-test region but is not a test cell",
                                   "move the hidden tests into the exercise's test cell (grade: true, locked)"))
        if is_answer(cell) and BEGIN_SOLUTION not in source:
            out.append(Problem("warning", name, where, "is an answer cell without ### BEGIN SOLUTION",
                               "the release replaces the whole cell by the stub: wrap only the answer in "
                               "### BEGIN SOLUTION / ### END SOLUTION to keep the signature and docstring"))
    return out


def _folded_problems(nb: Any, name: str) -> list[Problem]:
    """Worked derivations (dropped from the release) and model answers (kept, locked, after the exercise)."""
    out: list[Problem] = []
    before_tests = False  # inside an exercise, before its first test cell: a student is still answering
    for i, cell in enumerate(nb.cells):
        where, source = cell_label(nb, i), _text(cell)
        if cell.cell_type == "markdown":
            for line in source.split("\n"):
                if line.startswith("## "):
                    before_tests = bool(EXERCISE_RE.match(line.strip()))
        before_tests = before_tests and not is_test(cell)
        if is_worked(cell):
            try:
                check_worked_cell(cell, where)
            except CourseError as exc:  # "<where> is tagged … but …: <the fix>"
                what, _, fix = str(exc).removeprefix(f"{where} ").partition(": ")
                out.append(Problem("error", name, where, what, fix))
        elif cell.cell_type == "markdown" and source.lstrip().startswith("<details>"):
            if before_tests:
                out.append(Problem("error", name, where, "is a folded cell the release keeps, between a graded "
                                   "exercise's heading and its tests: a student would read the answer there",
                                   f"tag it {WORKED_TAG!r} if it works the exercise out (the release drops it); a "
                                   "model answer to an ungraded question goes after the exercise's test cells"))
            elif not is_locked(cell):
                out.append(Problem("warning", name, where, "is a model answer (a folded cell the release keeps) "
                                   "that is not locked", 'lock it ("locked": true) so a student\'s copy keeps it'))
    return out


def _code_cell_problems(nb: Any, name: str) -> list[Problem]:
    """Unlocked helper cells, and demo cells that tests need."""
    out: list[Problem] = []
    read_by_graded: set[str] = set()
    defined_elsewhere: set[str] = set()  # by a cell grading runs (not a demo cell)
    for cell in nb.cells:
        names = cell_names(_text(cell)) if cell.cell_type == "code" else None
        if names and (is_test(cell) or is_answer(cell)):
            read_by_graded |= names[1] - names[0]  # names it reads and does not set itself
        if names and not is_demo(cell):
            defined_elsewhere |= names[0]
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = cell_label(nb, i)
        if is_demo(cell):
            names = cell_names(_text(cell))
            needed = sorted((names[0] & read_by_graded) - defined_elsewhere) if names else []
            if needed:
                out.append(Problem("warning", name, where, f"is tagged demo but defines {', '.join(needed)}, which "
                                   "a test or answer cell reads", "move those definitions into a locked helper cell; "
                                   "keep demo cells for drawings and scratch work"))
        elif not meta(cell) and _text(cell).strip():
            out.append(Problem("warning", name, where, "is a code cell a student can edit, and grading runs their "
                               "version", 'lock it (nbgrader "locked": true) if tests rely on it, or tag it demo '
                               "if it is scratch work or a picture"))
    return out


def _exercise_problems(nb: Any, name: str) -> list[Problem]:
    out: list[Problem] = []
    found = exercises(nb)
    for ex in found:
        where = cell_label(nb, ex.heading_cell)
        label = f"Exercise {ex.number}"
        if not ex.answer_ids:
            out.append(Problem("error", name, where, f"{label} has no answer cell",
                               "put an answer cell (solution: true) under its heading"))
        if not ex.tests:
            out.append(Problem("error", name, where, f"{label} has no test cell",
                               "put a test cell (grade: true, locked, with points) under its heading"))
        elif abs(sum(ex.tests.values()) - ex.points) > 1e-9:
            each = ", ".join(f"{k}: {v:g}" for k, v in ex.tests.items())
            out.append(Problem("error", name, where, f"{label}'s heading says {ex.points:g} points, its test cells "
                               f"give {sum(ex.tests.values()):g} ({each})",
                               "make the heading's points the sum of its test cells' points"))
    placed = {gid for ex in found for gid in (*ex.answer_ids, *ex.tests)}
    for i, cell in enumerate(nb.cells):
        if (is_answer(cell) or is_test(cell)) and grade_id(cell) and grade_id(cell) not in placed:
            out.append(Problem("warning", name, cell_label(nb, i), "belongs to no exercise heading, so lint-source "
                               "cannot tell which mistakes its tests should catch",
                               "put it under a heading '## Exercise N.M — title (P points)'"))
    return out + _test_problems(nb, name, found)


def _test_problems(nb: Any, name: str, found: list) -> list[Problem]:
    """Hidden parts, named hidden cases, and references for the exercises an answer calls."""
    out: list[Problem] = []
    by_id = {grade_id(c): (i, c) for i, c in enumerate(nb.cells) if grade_id(c)}
    defines: dict[str, tuple[str, set[str]]] = {}  # answer id -> (exercise, functions it defines)
    for ex in found:
        for answer in ex.answer_ids:
            defines[answer] = (ex.number, _functions(_text(by_id[answer][1])) if answer in by_id else set())
    for ex in found:
        hidden = ""
        for test in ex.tests:
            i, cell = by_id[test]
            spans = _hidden_spans(_text(cell))
            hidden += spans
            if not spans:
                out.append(Problem("warning", name, cell_label(nb, i), "has no hidden tests: passing the visible "
                                   "checks gives full marks", "add a ### BEGIN HIDDEN TESTS part that checks other "
                                   "points, inside `with hidden_case(\"...\"):`"))
            elif "hidden_case(" not in spans:
                out.append(Problem("warning", name, cell_label(nb, i), "has hidden tests outside hidden_case: a "
                                   "failure there shows the student nothing they can act on",
                                   "wrap each hidden check in `with hidden_case(\"what the case is\"):`"))
        for answer in ex.answer_ids:
            names = cell_names(_text(by_id[answer][1])) if answer in by_id else None
            uses = names[1] if names else set()
            for number, defined in defines.values():
                if number == ex.number:
                    continue
                for fn in sorted(uses & defined):
                    if f"{fn}=" not in hidden:
                        out.append(Problem("warning", name, cell_label(nb, by_id[answer][0]), f"calls {fn} from "
                                           f"Exercise {number}, and Exercise {ex.number}'s tests register no "
                                           f"reference for it: a mistake in {fn} costs points twice",
                                           f"in the test's hidden part: use_references(globals(), {fn}=<reference>), "
                                           "and run the checks inside judge_alone(globals(), ...)"))
    return out


def _functions(source: str) -> set[str]:
    """The functions (and classes) an answer cell defines at its top level."""
    try:
        tree = ast.parse(strip_magics(source))
    except SyntaxError:
        return set()
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}


def _hidden_spans(source: str) -> str:
    try:
        spans = regions(source, BEGIN_HIDDEN, END_HIDDEN)
    except MarkerError:
        return ""
    lines = source.split("\n")
    return "\n".join("\n".join(lines[a:b + 1]) for a, b in spans)


def check_structure(path: Path) -> list[Problem]:
    """Every structural problem of the source notebook at ``path`` (errors first)."""
    name = path.name
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one finding, said plainly
        return [Problem("error", name, "the notebook", f"cannot be read as a notebook ({type(exc).__name__}: "
                        f"{str(exc)[:200]})", "open and save it in JupyterLab, or restore it from version control")]
    problems: list[Problem] = []
    kernel = (nb.metadata.get("kernelspec") or {}).get("name")
    if kernel != "python3":
        problems.append(Problem("error", name, "the notebook", f"its kernel is {kernel!r}; grading runs 'python3'",
                                'set the kernel to "Python 3 (ipykernel)" (kernelspec name python3) and save'))
    for check in (_metadata_problems, _marker_problems, _folded_problems, _code_cell_problems, _exercise_problems):
        problems += check(nb, name)
    if not any(is_test(c) for c in nb.cells):
        problems.append(Problem("warning", name, "the notebook", "has no test cell: nothing in it is graded",
                                "fine for a reading notebook; otherwise add exercises (docs/authoring.md)"))
    return sorted(problems, key=lambda p: p.severity != "error")
