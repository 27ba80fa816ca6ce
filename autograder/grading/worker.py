"""Grade one submission with nbgrader, in a private scratch course, and describe the outcome.

Each submission is autograded by nbgrader's own API in a scratch course folder that holds a copy of the
submission and a copy of a template gradebook (so several workers never write one SQLite file). The
caller (:mod:`autograder.commands.grade`) merges the scores into the real gradebook and moves the autograded
notebooks and feedback into the course folder.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from autograder.coursedir.course import CourseDir, nbgrader_api
from autograder.coursedir.database import open_gradebook
from autograder.grading.scan import scan_notebook
from autograder.isolation.sandbox import AUTOGRADE_PREPROCESSORS, Limits, sandbox_command, sandboxed
from autograder.isolation.verify import verify_notebook
from autograder.notebook.cells import grade_id, is_answer, is_graded
from autograder.notebook.reading import cell_error_text, read_notebook_problem

__all__ = ["CellResult", "Job", "SubmissionResult", "grade_submission"]


@dataclass(frozen=True)
class Job:
    """One submission to grade, with everything a worker process needs (all plain data)."""

    student: str
    assignment: str
    submission: str  # folder with the student's files (never modified)
    source: str  # the course's source/ folder
    template_db: str  # a gradebook that already knows the assignment (copied, never written)
    scratch: str  # a folder the worker may fill and delete
    notebooks: tuple[str, ...]  # the assignment's notebook names
    cell_timeout: int = 30
    digest: str = ""
    verify: bool = True  # run the independent re-check (autograder.isolation.verify)
    sandbox: bool = True  # run the student's code under bubblewrap with limits (autograder.isolation.sandbox)
    skip_unneeded: bool = True  # skip locked cells no test needs (drawings, widgets): notebook.dependencies
    limits: str = ""  # the sandbox's resource limits as JSON (autograder.isolation.sandbox.Limits); "" = defaults
    host_command: tuple[str, ...] = ()  # how to start the student host (sandboxed); () = plain Python
    host_env: dict[str, str] | None = None


@dataclass
class CellResult:
    """One graded cell: its score and, when it lost points, the first lines of the error it showed."""

    notebook: str
    cell: str
    score: float
    max_score: float
    message: str = ""
    manual: bool = False  # a manually graded cell nbgrader left for the instructor (auto_score None)


@dataclass
class SubmissionResult:
    """The outcome of grading one submission (JSON-serialisable)."""

    student: str
    assignment: str
    digest: str
    score: float = 0.0
    max_score: float = 0.0
    status: str = "ok"
    cells: list[CellResult] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # the static scan's findings, for the instructor
    sandboxed: bool = False  # graded with the student's code in the sandbox
    seconds: float = 0.0
    autograded: str = ""  # scratch folder with the autograded notebooks, to be moved by the caller
    feedback: str = ""  # scratch folder with the feedback HTML
    timestamp: str = ""
    gradebook: str = ""  # the gradebook (URL, password hidden) the scores were written into

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(data: dict) -> SubmissionResult:
        cells = [CellResult(**c) for c in data.get("cells", [])]
        return SubmissionResult(**{**data, "cells": cells})


def _messages(autograded: Path, notebook: str) -> tuple[dict[str, str], list[str], list[str]]:
    """Per test cell, the error it showed; and the problems and notes found in the answer cells."""
    path = autograded / f"{notebook}.ipynb"
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, [], []
    messages, problems, unanswered, errors = {}, [], [], []
    for cell in nb.get("cells", []):
        gid = grade_id(cell)
        if is_graded(cell) and gid:
            messages[gid] = cell_error_text(cell)
            if messages[gid].startswith("NotImplementedError"):
                unanswered.append(gid)
        elif is_answer(cell):
            err = cell_error_text(cell)
            if err.startswith(("SyntaxError", "IndentationError", "TabError")):
                problems.append(f"{err.splitlines()[0][:160]} in answer cell {gid}")
            elif err.startswith("timed out"):
                problems.append(f"answer cell {gid} {err}")
            elif err:
                errors.append(f"{err.splitlines()[0][:120]} in answer cell {gid}")
    notes = [f"unanswered, so these tests failed: {', '.join(unanswered)}"] if unanswered else []
    notes += errors
    return messages, problems, notes


def _recheck(job: Job, autograded: Path, result: SubmissionResult) -> list[str]:
    """Run the independent re-check; lower each cell to the re-check's score. Returns cells that lost points."""

    suspicious = []
    host_command = list(job.host_command) or None
    for name in job.notebooks:
        path = autograded / f"{name}.ipynb"
        if not path.exists():
            continue
        verdicts, _problem = verify_notebook(Path(job.source) / job.assignment / f"{name}.ipynb", path,
                                             host_command=host_command, host_env=job.host_env or None,
                                             cell_timeout=job.cell_timeout)
        for cell in result.cells:
            verdict = verdicts.get(cell.cell) if cell.notebook == name else None
            if verdict is not None and verdict.score < cell.score - 1e-9:
                suspicious.append(cell.cell)
                cell.score = verdict.score
                cell.message = ("passed inside the notebook but failed the grader's independent re-check: "
                                + (verdict.message or "wrong result"))
    return suspicious


def _store_scores(course: CourseDir, job: Job, result: SubmissionResult) -> None:
    """Write ``result``'s cell scores into the scratch gradebook, so feedback shows the final scores."""

    scores = {(c.notebook, c.cell): c.score for c in result.cells}
    with open_gradebook(course.db_url) as gb:
        for name in job.notebooks:
            nb = gb.find_submission_notebook(name, job.assignment, job.student)
            for grade in nb.grades:
                if (name, grade.name) in scores:
                    grade.auto_score = scores[(name, grade.name)]
        gb.db.commit()


def _autograde(job: Job, scratch: Path, sub: Path, result: SubmissionResult, problems: list[str],
               extra: dict) -> None:
    """nbgrader's autograde, the scan, the re-check and the feedback, filling ``result``."""

    course = CourseDir(scratch, f"sqlite:///{scratch / 'gradebook.db'}")
    # nbgrader's autograde with our Execute: output budgets, and only the cells grading needs are run
    extra = {"Autograde.autograde_preprocessors": list(AUTOGRADE_PREPROCESSORS),
             "CappedExecute.skip_unneeded": job.skip_unneeded, **extra}
    api = nbgrader_api(course, cell_timeout=job.cell_timeout, extra=extra)
    if any(sub.glob("*.ipynb")):
        outcome = api.autograde(job.assignment, job.student, force=True, create=True)
    else:  # nothing nbgrader could run: every notebook is missing or unreadable (reported above)
        outcome = {"success": False, "log": "", "error": ""}
    log = (outcome.get("log") or "") + (outcome.get("error") or "")
    if not outcome["success"] and log:
        if "DeadKernelError" in log or "Kernel died" in log or "kernel died" in log.lower():
            problems.append("the kernel died while running the notebook (os._exit, a crash or running out of "
                            "memory); no cell could be scored")
        else:
            last = [ln for ln in log.strip().splitlines() if ln.strip()][-1:] or ["unknown error"]
            problems.append(f"nbgrader could not grade it: {last[0][:300]}")

    from nbgrader.api import MissingEntry


    autograded = scratch / "autograded" / job.student / job.assignment
    notes: list[str] = []
    with open_gradebook(course.db_url) as gb:
        for name in job.notebooks:
            messages, answer_problems, answer_notes = _messages(autograded, name)
            problems += answer_problems
            notes += answer_notes
            try:
                nb = gb.find_submission_notebook(name, job.assignment, job.student)
                grades = [g.to_dict() for g in nb.grades]
            except MissingEntry:
                grades = [
                    {"name": cell.name, "max_score": cell.max_score, "auto_score": 0.0}
                    for cell in gb.find_notebook(name, job.assignment).grade_cells
                ]
            for g in sorted(grades, key=lambda g: g["name"]):
                score = float(g.get("auto_score") or 0.0) if outcome["success"] else 0.0
                manual = bool(outcome["success"]) and g.get("auto_score") is None
                msg = messages.get(g["name"], "") if score < float(g["max_score"]) and not manual else ""
                result.cells.append(CellResult(name, g["name"], score, float(g["max_score"]), msg, manual))
    timeouts = sorted({c.cell for c in result.cells if c.message.startswith("timed out")})
    if timeouts:
        problems.append(f"test cells timed out after {job.cell_timeout} s: {', '.join(timeouts)}")
    for name in job.notebooks:
        if (sub / f"{name}.ipynb").exists():
            result.flags += [str(f) for f in scan_notebook(nbformat.read(str(sub / f"{name}.ipynb"), as_version=4))]
    if outcome.get("success") and job.verify:
        suspicious = _recheck(job, autograded, result)
        if suspicious:
            problems.append("tests passed inside the notebook but failed the grader's independent re-check in "
                            f"{', '.join(suspicious)}: scored 0 there; review this submission")
            _store_scores(course, job, result)
    result.score = round(sum(c.score for c in result.cells), 6)
    result.max_score = round(sum(c.max_score for c in result.cells), 6)
    # "ok" (optionally with notes) means graded normally; anything else needs the instructor's attention
    result.status = "; ".join(problems) if problems else ("ok" + (f" ({'; '.join(notes)})" if notes else ""))
    if outcome.get("success") and autograded.exists():
        result.autograded = str(autograded)
        fb = api.generate_feedback(job.assignment, job.student, force=True)
        if fb["success"]:
            result.feedback = str(scratch / "feedback" / job.student / job.assignment)


def grade_submission(job: Job) -> SubmissionResult:
    """Autograde ``job`` in ``job.scratch`` and return its scores, messages and status."""
    start = time.perf_counter()
    result = SubmissionResult(job.student, job.assignment, job.digest)
    scratch = Path(job.scratch)
    if scratch.exists():
        shutil.rmtree(scratch)
    (scratch / "submitted" / job.student).mkdir(parents=True)
    (scratch / "source").symlink_to(job.source, target_is_directory=True)
    shutil.copy(job.template_db, scratch / "gradebook.db")
    sub = scratch / "submitted" / job.student / job.assignment
    shutil.copytree(job.submission, sub, symlinks=True, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for link in [p for p in sub.rglob("*") if p.is_symlink()]:
        link.unlink()  # a submitted symlink could point at the solutions: never follow one
    if (sub / "timestamp.txt").exists():
        result.timestamp = (sub / "timestamp.txt").read_text(errors="replace").strip()
        # the course gradebook records (and checks) it; nbgrader's autograde would stop on a malformed one
        (sub / "timestamp.txt").unlink()

    problems = []
    for name in job.notebooks:
        path = sub / f"{name}.ipynb"
        if not path.exists():
            others = sorted(p.name for p in sub.glob("*.ipynb"))
            problems.append(f"{name}.ipynb is missing" + (f" (found {', '.join(others)})" if others else ""))
            continue
        why = read_notebook_problem(path)
        if why:
            problems.append(f"{name}.ipynb {why}")
            path.unlink()  # only the scratch copy: graded as missing (0 points); the student's file is kept

    if job.sandbox:

        with sandboxed(scratch, Path(job.source).parent, limits=Limits.from_json(job.limits or None)) as extra:
            host = tuple(sandbox_command([sys.executable, "-m", "autograder.isolation.student_host"]))
            _autograde(dataclasses.replace(job, host_command=host), scratch, sub, result, problems, extra)
    else:
        _autograde(job, scratch, sub, result, problems, {})
    result.sandboxed = job.sandbox
    result.seconds = round(time.perf_counter() - start, 3)
    return result
