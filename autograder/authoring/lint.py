"""`backprop-course lint-source PATH`: an author's check of a source notebook or assignment folder.

First the structure (:mod:`autograder.authoring.structure`): every error with its cell and the fix. Then,
if there is no error, the tests' quality (:mod:`autograder.authoring.graded`): the assignment is released
and its correct, blank and single-mistake submissions are graded with the real grader, and the report
says per exercise how many mistakes its tests catch, shows each surviving mistake as a diff, and names
any mistake that costs points in another exercise, any test that fails a correct answer, and what the
blank notebook scores. Exit status 1 when an error or a surviving mistake remains (so an author can run it
in CI), else 0.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from autograder.authoring.graded import Graded, Quality, grade_mistakes
from autograder.authoring.mutation import score_line
from autograder.authoring.structure import Problem, check_structure
from autograder.errors import CourseError

__all__ = ["lint_source", "quality_report"]


def _target(path: Path) -> tuple[Path, list[Path]]:
    """(the assignment folder, the notebooks to check) for a notebook or a folder."""
    path = path.expanduser().resolve()
    if path.is_file() and path.suffix == ".ipynb":
        return path.parent, [path]
    if path.is_dir():
        found = sorted(p for p in path.glob("*.ipynb") if not p.name.startswith("."))
        if found:
            return path, found
        raise CourseError(f"no notebook in {path}: give a source notebook (.ipynb) or its assignment folder")
    raise CourseError(f"{path} is neither a source notebook (.ipynb) nor a folder of them")


def _points(g: Graded | None) -> tuple[float, float]:
    cells = g.cells.values() if g else []
    return sum(s for s, _, _ in cells), sum(t for _, t, _ in cells)


def _baseline(q: Quality) -> tuple[list[str], bool]:
    """Lines about the correct and the blank submission, and whether either is wrong."""
    lines, bad = [], False
    score, top = _points(q.correct)
    if q.correct is None or not q.correct.cells:
        lines.append(f"correct answers: not graded ({q.correct.status if q.correct else 'no result'})")
        bad = True
    elif q.correct.lost():
        bad = True
        lines.append(f"correct answers: {score:g}/{top:g} points; these tests fail a correct answer (fix the test):")
        lines += [f"  {nb}/{cell}: {msg.splitlines()[0][:200] if msg else 'lost points'}"
                  for (nb, cell), msg in q.correct.lost().items()]
    else:
        lines.append(f"correct answers: full marks ({score:g}/{top:g})")
    score, top = _points(q.blank)
    passing = [f"{nb}/{cell}" for (nb, cell), (s, _, _) in (q.blank.cells.items() if q.blank else []) if s > 0]
    if passing:
        bad = True
        lines.append(f"blank notebook: {score:g}/{top:g} points; these tests pass with no answer: {', '.join(passing)}")
    else:
        lines.append(f"blank notebook: {score:g}/{top:g} points")
    return lines, bad


def quality_report(q: Quality) -> tuple[str, int, int, bool]:
    """The report on the tests' quality; the number of surviving mistakes and of mistakes that leak; and
    whether the correct answers lose points or the blank notebook earns some."""
    lines, bad = _baseline(q)
    survivors = leaks = 0
    for notebook, found in q.exercises.items():
        mine = [(g, g.mutant) for g in q.mutants if g.mutant is not None and g.mutant.notebook == notebook]
        if not mine:
            continue
        caught = [g for g, m in mine if q.own_tests(m) & set(g.lost())]
        leaked = [g for g, m in mine if set(g.lost()) - q.own_tests(m)]
        lines.append(score_line(notebook, len(caught), len(mine), 0, len(leaked)))
        for ex in found:
            of_ex = [g for g, m in mine if m.grade_id in ex.answer_ids]
            if of_ex:
                n = sum(g in caught for g in of_ex)
                lines.append(f"  Exercise {ex.number} — {ex.title}: {n}/{len(of_ex)} mistakes caught "
                             f"({100 * n / len(of_ex):.0f}%)")
        for g, m in mine:
            if g not in caught:
                lines.append(f"  SURVIVED in {m.grade_id} ({m.kind}: {m.description}): no test of its exercise "
                             "lost points; a test that checks the value (not only its shape or type) catches it")
                lines += ["      " + d for d in m.diff.splitlines()]
            if g in leaked:
                others = ", ".join(f"{nb}/{c}" for nb, c in sorted(set(g.lost()) - q.own_tests(m)))
                lines.append(f"  LEAKED    {m.grade_id} ({m.kind}: {m.description}) also costs points in {others}: "
                             "give that test a reference for this function (use_references + judge_alone)")
        survivors += len(mine) - len(caught)
        leaks += len(leaked)
    return "\n".join(lines), survivors, leaks, bad


def lint_source(path: Path, *, workers: int = 2, sample: int | None = None, quality: bool = True,
                progress: Callable[[str], None] = print) -> int:
    """Check ``path`` (a source notebook or an assignment folder); print the findings; return the exit status."""
    start = time.perf_counter()
    folder, notebooks = _target(path)
    problems: list[Problem] = []
    for nb in notebooks:
        problems += check_structure(nb)
    errors = [p for p in problems if p.severity == "error"]
    for p in problems:
        progress(str(p))
    progress(f"structure: {len(errors)} error(s), {len(problems) - len(errors)} warning(s) in "
             f"{', '.join(p.name for p in notebooks)}")
    if errors:
        progress("fix the errors first: the tests' quality is measured once the notebook releases")
        return 1
    if not quality:
        return 0
    with tempfile.TemporaryDirectory(prefix="bpc-lint-") as tmp:
        try:
            q = grade_mistakes(folder, Path(tmp), workers=workers, sample=sample,
                               only={p.stem for p in notebooks}, progress=progress)
        except CourseError as exc:
            progress(f"error: {exc}")
            return 1
    text, survivors, leaks, bad = quality_report(q)
    progress(text)
    progress(f"lint-source: {len(errors)} error(s), {survivors} surviving mistake(s), {leaks} mistake(s) that cost "
             f"points in another exercise{', tests that fail a correct or pass a blank answer' if bad else ''}; "
             f"{time.perf_counter() - start:.0f} s")
    return 1 if survivors or leaks or bad else 0
