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
from nbgrader.utils import parse_utc

from autograder.coursedir.course import CourseDir, nbgrader_api
from autograder.coursedir.database import open_gradebook
from autograder.grading.scan import scan_notebook
from autograder.grading.status import Status
from autograder.isolation.one_run import ONE_RUN_PREPROCESSORS, load_results
from autograder.isolation.sandbox import AUTOGRADE_PREPROCESSORS, Limits, sandbox_command, sandboxed
from autograder.isolation.session import discard_prestarted, prestart_host
from autograder.notebook.cells import grade_id, is_answer, is_graded, is_test
from autograder.notebook.reading import cell_error_text, drop_foreign_metadata, read_notebook
from autograder.untrusted import for_terminal

__all__ = ["CellResult", "Job", "SubmissionResult", "grade_submission"]

FEEDBACK_EXPORTER = "autograder.grading.feedback_page.CompiledTemplatesHTMLExporter"  # templates compiled once


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
    verify: bool = True  # judge every test cell outside the student's process (autograder.isolation.one_run)
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
    status: Status = field(default_factory=Status)  # graded normally, or what needs the instructor
    cells: list[CellResult] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # the static scan's findings, for the instructor
    sandboxed: bool = False  # graded with the student's code in the sandbox
    seconds: float = 0.0
    autograded: str = ""  # scratch folder with the autograded notebooks, to be moved by the caller
    feedback: str = ""  # scratch folder with the feedback HTML
    timestamp: str = ""
    gradebook: str = ""  # the gradebook (URL, password hidden) the scores were written into
    # per test cell, the grader's verdict as plain data (see _verdict_records); kept with the grading record
    verdicts: list[dict] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase of this submission's grading

    def __post_init__(self) -> None:
        self.status = Status.from_json(self.status)  # a status given as its text reads as fields

    def to_json(self) -> dict:
        return {**asdict(self), "status": self.status.to_json()}

    @staticmethod
    def from_json(data: dict) -> SubmissionResult:
        cells = [CellResult(**c) for c in data.get("cells", [])]
        return SubmissionResult(**{**data, "cells": cells, "status": Status.from_json(data.get("status"))})


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
            gid = for_terminal(gid[:40])  # the notebook's own grade_ids are known; still the student's file
            if err.startswith(("SyntaxError", "IndentationError", "TabError")):
                problems.append(f"{for_terminal(err.splitlines()[0][:160])} in answer cell {gid}")
            elif err.startswith("timed out"):
                problems.append(f"answer cell {gid} {err}")
            elif err:
                errors.append(f"{for_terminal(err.splitlines()[0][:120])} in answer cell {gid}")
    notes = [f"unanswered, so these tests failed: {', '.join(unanswered)}"] if unanswered else []
    notes += errors
    return messages, problems, notes


def _feedback_verdicts(job: Job, result: SubmissionResult, runs: dict[str, dict], path: Path) -> None:
    """Write what feedback may show per test cell (:mod:`autograder.grading.feedback`) to ``path``."""
    notebooks: dict[str, dict] = {}
    for cell in result.cells:
        run = runs.get(cell.notebook, {})
        notebooks.setdefault(cell.notebook, {})[cell.cell] = {
            "score": cell.score, "max_score": cell.max_score,
            "visible": run.get("visible", {}).get(cell.cell),
            "verified": run.get("verdicts", {}).get(cell.cell),
        }
    path.write_text(json.dumps({"rechecked": job.verify, "notebooks": notebooks}))


def _verdict_records(job: Job, result: SubmissionResult, runs: dict[str, dict]) -> list[dict]:
    """Per test cell: notebook, cell id, exercise, points, score, the visible message, hidden passed/failed.

    Plain JSON-able data, decided in the grader: the diagnosis a regenerated feedback page shows. ``exercise``
    is the answer cell the test follows (its grade_id), ``visible`` the message of the cell's visible checks
    ('' when they passed), ``hidden`` "passed"/"failed" for the whole test (``None``: not judged).
    """
    records = []
    for name in job.notebooks:
        run = runs.get(name)
        if run is None:
            continue
        exercises = _exercises(Path(job.source) / job.assignment / f"{name}.ipynb")
        for cell in (c for c in result.cells if c.notebook == name and c.cell in run.get("verdicts", {})):
            verdict, visible = run["verdicts"][cell.cell], run.get("visible", {}).get(cell.cell) or {}
            records.append({
                "notebook": name, "cell": cell.cell, "exercise": exercises.get(cell.cell, ""),
                "points": cell.max_score, "score": cell.score, "visible": str(visible.get("message", "")),
                "hidden": "passed" if float(verdict.get("score", 0)) >= cell.max_score else "failed",
                "unverifiable": bool(verdict.get("unverifiable")),
            })
    return records


def _execution_config(job: Job, extra: dict, results: Path) -> dict:
    """nbgrader's config for running the submission: the one run (default), or nbgrader's own execution."""
    if job.verify:  # the student's code runs once, in the student host; every test cell is judged here
        return {**extra, "Autograde.autograde_preprocessors": list(ONE_RUN_PREPROCESSORS),
                "OneRun.source_dir": str(Path(job.source)), "OneRun.results_dir": str(results),
                "OneRun.host_command": list(job.host_command), "OneRun.timeout": float(job.cell_timeout)}
    # nbgrader's own execution in a (sandboxed) kernel: output budgets, only the cells grading needs
    return {"Autograde.autograde_preprocessors": list(AUTOGRADE_PREPROCESSORS),
            "CappedExecute.skip_unneeded": job.skip_unneeded, **extra}


def _run_problems(runs: dict[str, dict]) -> list[str]:
    """What needs the instructor's attention in the one run: a process that died, cells not judged."""
    problems = [f"the student's process died or stopped answering in {name} "
                f"({for_terminal(str(run['problem'])[:300])}); the test cells not judged scored 0"
                for name, run in runs.items() if run.get("problem")]
    unverified = sorted(g for run in runs.values() for g, v in run.get("verdicts", {}).items() if v.get("unverifiable"))
    if unverified:
        problems.append(f"the grader could not check {', '.join(unverified)} automatically (scored 0 there): "
                        "check these cells by hand and give points in Formgrader if earned")
    return problems


def _add_phases(result: SubmissionResult, runs: dict[str, dict], autograde: float) -> None:
    """Seconds per phase: the session's (sandbox start, student cells, checks) and nbgrader's bookkeeping."""
    for run in runs.values():
        for phase, seconds in (run.get("seconds") or {}).items():
            result.phases[phase] = round(result.phases.get(phase, 0.0) + float(seconds), 3)
    waited = sum(result.phases.get(p, 0.0) for p in ("sandbox start", "student cells", "checks"))
    result.phases["record"] = round(autograde - waited, 3)  # nbgrader: restore cells, save grades


def _exercises(source: Path) -> dict[str, str]:
    """For each test cell of ``source``, the grade_id of the last answer cell above it."""
    out, answer = {}, ""
    for cell in nbformat.read(str(source), as_version=4).cells:
        if is_answer(cell):
            answer = grade_id(cell)
        elif is_test(cell):
            out[grade_id(cell)] = answer
    return out


def _collect_cells(job: Job, course: CourseDir, autograded: Path, success: bool, result: SubmissionResult,
                   problems: list[str], notes: list[str]) -> None:
    """Each graded cell's score from the scratch gradebook (0 when nbgrader failed), with its message."""
    from nbgrader.api import MissingEntry

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
                score = float(g.get("auto_score") or 0.0) if success else 0.0
                manual = bool(success) and g.get("auto_score") is None
                msg = messages.get(g["name"], "") if score < float(g["max_score"]) and not manual else ""
                result.cells.append(CellResult(name, g["name"], score, float(g["max_score"]), msg, manual))


def _autograde(job: Job, scratch: Path, sub: Path, result: SubmissionResult, problems: list[str],
               extra: dict, notes: list[str] | None = None) -> None:
    """nbgrader's autograde (the one run), the scan and the feedback, filling ``result``."""

    course = CourseDir(scratch, f"sqlite:///{scratch / 'gradebook.db'}")
    notes = list(notes or [])
    results = scratch / "one-run"
    extra = _execution_config(job, extra, results)
    api = nbgrader_api(course, cell_timeout=job.cell_timeout, extra=extra)
    started = time.perf_counter()
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

    autograded = scratch / "autograded" / job.student / job.assignment
    _collect_cells(job, course, autograded, bool(outcome["success"]), result, problems, notes)
    timeouts = sorted({c.cell for c in result.cells if c.message.startswith("timed out")})
    if timeouts:
        problems.append(f"test cells timed out after {job.cell_timeout} s: {', '.join(timeouts)}")
    for name in job.notebooks:
        if (sub / f"{name}.ipynb").exists():
            result.flags += [str(f) for f in scan_notebook(nbformat.read(str(sub / f"{name}.ipynb"), as_version=4))]
    runs = {name: run for name in job.notebooks if (run := load_results(results, name))}
    _add_phases(result, runs, time.perf_counter() - started)
    problems += _run_problems(runs)
    result.verdicts = _verdict_records(job, result, runs)
    result.score = round(sum(c.score for c in result.cells), 6)
    result.max_score = round(sum(c.max_score for c in result.cells), 6)
    result.status = Status(reasons=problems, notes=notes)  # no reasons: graded normally
    if outcome.get("success") and autograded.exists():
        result.autograded = str(autograded)
        _feedback_verdicts(job, result, runs, scratch / "feedback-verdicts.json")
        api = nbgrader_api(course, cell_timeout=job.cell_timeout,
                           extra={**extra, "HideHiddenTests.verdicts": str(scratch / "feedback-verdicts.json"),
                                  "GenerateFeedback.exporter_class": FEEDBACK_EXPORTER})
        mark = time.perf_counter()
        fb = api.generate_feedback(job.assignment, job.student, force=True)
        result.phases["feedback"] = round(time.perf_counter() - mark, 3)
        if fb["success"]:
            result.feedback = str(scratch / "feedback" / job.student / job.assignment)
        else:  # never silently without a page (issue 21: rootless runs had none, and said nothing)
            why = [ln for ln in f"{fb.get('log') or ''}{fb.get('error') or ''}".splitlines() if ln.strip()][-1:]
            result.status = Status(reasons=[*problems, "no feedback page: nbgrader's generate_feedback failed ("
                                            f"{(why or ['no reason given'])[0][:300]})"], notes=notes)


def _read_timestamp(sub: Path, result: SubmissionResult, problems: list[str]) -> None:
    """The submission time from ``timestamp.txt`` (nbgrader's exchange writes it; a student can too).

    One that is not a date is reported and removed from the scratch copy (nbgrader's autograde would fail
    on it): the submission is graded without a time and needs the instructor's attention.
    """
    path = sub / "timestamp.txt"
    if not path.exists():
        return
    text = path.read_bytes()[:200].decode("utf-8", "replace").strip()
    try:
        if text:
            parse_utc(text)
            result.timestamp = text
    except (ValueError, OverflowError, TypeError) as exc:
        problems.append(f"timestamp.txt is not a date and time (\"{for_terminal(text[:40])}\": "
                        f"{for_terminal(str(exc)[:80])}): graded without a submission time, so no late penalty "
                        "was computed; set it by hand if one applies")
        path.unlink()


def _prepare_notebook(job: Job, name: str, path: Path, problems: list[str], notes: list[str]) -> None:
    """Make the scratch copy of one notebook gradable however it was saved, or remove it (graded as missing).

    A byte-order mark, UTF-16 and older nbformat versions are converted; nbgrader metadata that does not
    belong to this notebook (a cell copied from another assignment) is dropped. Both are noted in the result.
    """
    nb, why, converted = read_notebook(path)
    if nb is None:
        problems.append(f"{name}.ipynb {why}")
        path.unlink()  # only the scratch copy: graded as missing (0 points); the student's file is kept
        return
    source = nbformat.read(str(Path(job.source) / job.assignment / f"{name}.ipynb"), as_version=4)
    dropped = drop_foreign_metadata(nb, {grade_id(c) for c in source.cells if grade_id(c)})
    notes += [f"{name}.ipynb {n}" for n in converted]
    if dropped:
        notes.append(f"{name}.ipynb: nbgrader metadata of cell(s) {', '.join(map(str, dropped))} did not belong to "
                     "this notebook (copied from another, or a repeated grade_id) and was dropped before grading")
    if converted or dropped:
        nbformat.write(nb, str(path))


def _fill_scratch(job: Job, scratch: Path, result: SubmissionResult) -> tuple[Path, list[str], list[str]]:
    """Copy the submission and the template gradebook into ``scratch``; the submission's folder, problems, notes."""
    shutil.copy(job.template_db, scratch / "gradebook.db")
    sub = scratch / "submitted" / job.student / job.assignment
    shutil.copytree(job.submission, sub, symlinks=True, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for link in [p for p in sub.rglob("*") if p.is_symlink()]:
        link.unlink()  # a submitted symlink could point at the solutions: never follow one
    problems: list[str] = []
    notes: list[str] = []
    _read_timestamp(sub, result, problems)  # a malformed one is removed; a valid one stays for nbgrader's feedback
    for name in job.notebooks:
        path = sub / f"{name}.ipynb"
        if not path.exists():
            others = sorted(for_terminal(p.name[:80]) for p in sub.glob("*.ipynb"))
            problems.append(f"{name}.ipynb is missing" + (f" (found {', '.join(others)})" if others else ""))
            continue
        _prepare_notebook(job, name, path, problems, notes)
    return sub, problems, notes


def _grade_sandboxed(job: Job, scratch: Path, result: SubmissionResult) -> None:
    """Fill the scratch course and autograde it, the student's code in the sandbox.

    With the one run (``job.verify``), each submitted notebook's student host is started first, inside this
    submission's sandbox block (its own cgroups): it loads Python, numpy, IPython and course_lib while this
    process copies the submission and nbgrader restores its cells, and serves this submission only.
    """
    with sandboxed(scratch, Path(job.source).parent, limits=Limits.from_json(job.limits or None)) as extra:
        host = tuple(sandbox_command([sys.executable, "-m", "autograder.isolation.student_host"]))
        try:
            if job.verify:
                submitted = Path(job.submission)
                for _ in filter(Path.exists, (submitted / f"{name}.ipynb" for name in job.notebooks)):
                    prestart_host(list(host), None, float(job.cell_timeout))
            sub, problems, notes = _fill_scratch(job, scratch, result)
            _autograde(dataclasses.replace(job, host_command=host), scratch, sub, result, problems, extra, notes)
        finally:
            discard_prestarted()


def grade_submission(job: Job) -> SubmissionResult:
    """Autograde ``job`` in ``job.scratch`` and return its scores, messages and status."""
    start = time.perf_counter()
    result = SubmissionResult(job.student, job.assignment, job.digest)
    scratch = Path(job.scratch)
    if scratch.exists():
        shutil.rmtree(scratch)
    (scratch / "submitted" / job.student).mkdir(parents=True)
    (scratch / "source").symlink_to(job.source, target_is_directory=True)  # before the sandbox: it hides both
    if job.sandbox:
        _grade_sandboxed(job, scratch, result)
    else:
        sub, problems, notes = _fill_scratch(job, scratch, result)
        _autograde(job, scratch, sub, result, problems, {}, notes)
    result.sandboxed = job.sandbox
    result.seconds = round(time.perf_counter() - start, 3)
    return result
