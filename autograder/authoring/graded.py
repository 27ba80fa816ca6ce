"""Grade an assignment's single mistakes with the real grader: how good are its tests?

The assignment folder is released in a private scratch course with nbgrader (the same preprocessors as
``backprop-course release``), then graded as a class would be, through the grading pool
(:mod:`autograder.grading.worker`: nbgrader's autograde in the sandbox, then the independent re-check):
one correct submission (every answer from the source's solutions), one blank one (the release as it
is) and one per mutant (:mod:`autograder.authoring.mutants`: the correct submission with one mistake in
one answer cell). A mutant is *caught* when a test cell of its own exercise loses points; it *leaks* when
a test cell of another exercise loses points too.
"""

from __future__ import annotations

import copy
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from autograder.authoring.exercises import Exercise, exercises
from autograder.authoring.mutants import Mutant, mutants_of_notebook
from autograder.coursedir.course import CourseDir, nbgrader_api
from autograder.coursedir.nbgrader_log import failure_cause
from autograder.errors import CourseError
from autograder.grading.pool import JobFailure, run_pool
from autograder.grading.status import Status
from autograder.grading.worker import Job, SubmissionResult, grade_submission
from autograder.isolation.sandbox import sandbox_available
from autograder.notebook.cells import answer_cells, grade_id, solution_text

__all__ = ["Graded", "Quality", "grade_mistakes", "release_in_scratch"]

_IGNORE = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc", ".*")


@dataclass
class Graded:
    """One graded submission: what it was, and each test cell's (score, max score, message)."""

    label: str
    mutant: Mutant | None
    cells: dict[tuple[str, str], tuple[float, float, str]]
    status: Status

    def lost(self) -> dict[tuple[str, str], str]:
        """The test cells that lost points, with their messages."""
        return {key: msg for key, (score, top, msg) in self.cells.items() if score < top - 1e-9}


@dataclass
class Quality:
    """The outcome of grading one assignment's correct, blank and mutated submissions."""

    assignment: str
    exercises: dict[str, list[Exercise]]  # notebook stem -> its exercises
    correct: Graded | None = None
    blank: Graded | None = None
    mutants: list[Graded] = field(default_factory=list)
    sandboxed: bool = True
    seconds: float = 0.0

    def own_tests(self, mutant: Mutant) -> set[tuple[str, str]]:
        """The test cells of the exercise a mutant's answer cell belongs to."""
        return {(mutant.notebook, t) for ex in self.exercises.get(mutant.notebook, [])
                if mutant.grade_id in ex.answer_ids for t in ex.tests}


def release_in_scratch(folder: Path, scratch: Path) -> CourseDir:
    """Release ``folder`` (one assignment's source) in a scratch course under ``scratch``, as ``release`` does.

    Raises :class:`CourseError` with nbgrader's real cause (the traceback it logs) when it cannot.
    """
    course = CourseDir.at(scratch / "course")
    dest = course.source / folder.name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(folder, dest, ignore=_IGNORE)
    result = nbgrader_api(course).generate_assignment(folder.name, force=True, create=True)
    if not result["success"]:
        causes = failure_cause(result.get("log") or "") or (result.get("error") or "").strip().splitlines()[-1:]
        raise CourseError(f"nbgrader cannot release {folder.name}:\n  " + "\n  ".join(causes))
    return course


def _filled(release_nb: Any, source_nb: Any, mutant: Mutant | None) -> Any:
    """The release notebook with every answer from the source's solutions (one replaced by ``mutant``)."""
    solutions = {grade_id(c): solution_text(c.source) for c in answer_cells(source_nb)}
    nb = copy.deepcopy(release_nb)
    for cell in answer_cells(nb):
        gid = grade_id(cell)
        if mutant is not None and gid == mutant.grade_id:
            cell.source = mutant.source
        elif gid in solutions:
            cell.source = solutions[gid]
    return nb


def _plan(course: CourseDir, assignment: str, sample: int | None, seed: int, only: set[str] | None,
          ) -> tuple[dict[str, tuple[Any, Any]], list[tuple[str, Mutant | None]], dict[str, list[Exercise]]]:
    """(notebook -> (release, source)), the submissions to grade (label, mutant), each notebook's exercises."""
    notebooks: dict[str, tuple[Any, Any]] = {}
    found: dict[str, list[Exercise]] = {}
    plans: list[tuple[str, Mutant | None]] = [("correct", None), ("blank", None)]
    mutants: list[Mutant] = []
    for path in sorted((course.source / assignment).glob("*.ipynb")):
        source = nbformat.read(str(path), as_version=4)
        release = nbformat.read(str(course.release / assignment / path.name), as_version=4)
        notebooks[path.stem] = (release, source)
        found[path.stem] = exercises(source)
        if only is None or path.stem in only:
            mutants += mutants_of_notebook(source, path.stem)
    if sample is not None and sample < len(mutants):
        mutants = sorted(random.Random(seed).sample(mutants, sample), key=mutants.index)
    plans += [(f"mutant-{i:03d}", m) for i, m in enumerate(mutants, 1)]
    return notebooks, plans, found


def _write_submission(course: CourseDir, assignment: str, folder: Path, label: str, mutant: Mutant | None,
                      notebooks: dict[str, tuple[Any, Any]]) -> None:
    shutil.copytree(course.release / assignment, folder, ignore=_IGNORE)  # data files a notebook reads, too
    for stem, (release, source) in notebooks.items():
        if label == "blank":
            continue
        nb = _filled(release, source, mutant if mutant is not None and mutant.notebook == stem else None)
        nbformat.write(nb, str(folder / f"{stem}.ipynb"))


def _grader_failed(graded: Graded) -> bool:
    """Whether nbgrader itself failed on a submission (no cell was run), rather than scoring it.

    Seen when the first submissions start at once in fresh worker processes; such a result says nothing
    about the tests, so it is graded again, alone.
    """
    failures = ("nbgrader could not grade it", "the grading process", "stopped after", "the grader failed")
    return not graded.cells or any(r.startswith(failures) for r in graded.status.all_reasons())


def _graded(label: str, mutant: Mutant | None, outcome: SubmissionResult | JobFailure) -> Graded:
    if isinstance(outcome, JobFailure):
        return Graded(label, mutant, {}, Status(reasons=[outcome.reason]))
    cells = {(c.notebook, c.cell): (c.score, c.max_score, c.message) for c in outcome.cells}
    return Graded(label, mutant, cells, outcome.status)


def grade_mistakes(
    folder: Path,
    scratch: Path,
    *,
    workers: int = 2,
    sample: int | None = None,
    seed: int = 0,
    only: set[str] | None = None,
    cell_timeout: int = 120,
    progress: Callable[[str], None] = print,
) -> Quality:
    """Release ``folder`` in ``scratch`` and grade its correct, blank and mutated submissions for real.

    ``only``: mutate only these notebooks (stems) of the assignment; ``sample``: a random sample of the mutants.
    ``cell_timeout`` is generous (the grader's default is 30 s): on a loaded machine a slow cell must not
    pass for a caught mistake.
    """
    start = time.perf_counter()
    course = release_in_scratch(folder, scratch)
    assignment = folder.name
    notebooks, plans, found = _plan(course, assignment, sample, seed, only)
    sandbox, why = sandbox_available()
    if not sandbox:
        progress(f"note: grading without the sandbox ({why}); the scores are the same, only the protection differs")
    jobs, by_student = [], {}
    for label, mutant in plans:
        sub = scratch / "submissions" / label / assignment
        _write_submission(course, assignment, sub, label, mutant, notebooks)
        by_student[label] = mutant
        jobs.append(Job(student=label, assignment=assignment, submission=str(sub), source=str(course.source),
                        template_db=str(course.root / "gradebook.db"), scratch=str(scratch / "work" / label),
                        notebooks=tuple(sorted(notebooks)), cell_timeout=cell_timeout, sandbox=sandbox))
    quality = Quality(assignment, found, sandboxed=sandbox)
    progress(f"grading {len(jobs)} submissions of {assignment} (the correct one, the blank one and "
             f"{len(jobs) - 2} with one mistake each) with {workers} worker(s)")
    done, again = 0, []

    def on_result(job: Job, outcome: SubmissionResult | JobFailure) -> None:
        nonlocal done
        graded = _graded(job.student, by_student[job.student], outcome)
        if _grader_failed(graded) and job not in again:  # not the submission's doing: graded again at the end
            again.append(job)
            progress(f"[{done}/{len(jobs)}] {job.student}: the grader failed ({graded.status.text()[:200]}); "
                     "grading it again at the end")
            return
        done += 1
        if graded.mutant is None:
            setattr(quality, graded.label, graded)
            verdict = f"{sum(s for s, _, _ in graded.cells.values()):g}/{sum(t for _, t, _ in graded.cells.values()):g}"
        else:
            quality.mutants.append(graded)
            caught = quality.own_tests(graded.mutant) & set(graded.lost())
            verdict = "caught" if caught else "SURVIVED"
            verdict += f" ({graded.mutant.grade_id}, {graded.mutant.kind}: {graded.mutant.description})"
        status = "" if graded.status.ok else f"  [{graded.status.text()[:300]}]"
        progress(f"[{done}/{len(jobs)}] {job.student}: {verdict}{status}")
        shutil.rmtree(job.scratch, ignore_errors=True)

    run_pool(grade_submission, jobs, max(1, workers), 60.0 * 10, on_result, log=str(scratch / "workers.log"))
    if again:
        run_pool(grade_submission, list(again), 1, 60.0 * 10, on_result, log=str(scratch / "workers.log"))
    quality.mutants.sort(key=lambda g: g.label)
    quality.seconds = time.perf_counter() - start
    return quality
