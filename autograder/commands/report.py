"""`backprop-course report`: how the class did on each exercise, and what needs the instructor's attention.

Made to be shown in a lecture: per assignment, the exercises by their title in notebook order (the
heading above each exercise's test cells in the source notebook), each with its mean points, how many
students got full marks and every diagnosis the grader gave there, counted in students. Exercise means
and the score histogram are before late penalties; the penalties are listed on their own. Next to
``report.txt`` it saves ``report.png`` (the score histogram per assignment) and ``report-exercises.png``
(mean points per exercise); each figure's text alternative is in ``report.txt`` and in the PNG's
``Description``.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from autograder.coursedir.course import CourseDir
from autograder.errors import CourseError
from autograder.grading.missing import is_missing
from autograder.grading.record import Final, late_lines, load_results, update_record
from autograder.notebook.cells import grade_id, is_test
from autograder.untrusted import for_terminal

__all__ = ["HOW_CHECKED", "clip", "diagnosis_of", "exercises_of", "histogram_text", "make_report"]

_BINS = [(0, 20), (20, 40), (40, 60), (60, 80), (80, 100.0001)]
_NUMBER = re.compile(r"-?\d+\.\d+(e[-+]?\d+)?")
HOW_CHECKED = ("How this was checked: the grader ran each answer again, outside the student's notebook, at "
               "the visible and the hidden test inputs; a gradient is compared with numerical derivatives; a "
               "diagnosis names the most likely mistake.")


def clip(text: str, limit: int = 160) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, with "…" where it was cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + " …"


def diagnosis_of(message: str) -> str:
    """The one line of a failure message that says what is most likely wrong (numbers elided, whole words)."""
    if not message:
        return ""
    lines = [ln.strip(" -•*") for ln in message.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("How this was checked")] or lines
    numbered = [re.sub(r"^1\.\s+", "", ln) for ln in lines if re.match(r"^1\.\s", ln)]
    if numbered:  # the gradient checker puts its diagnosis first, numbered: "1. W1: the sign is flipped ..."
        return clip(_NUMBER.sub("…", numbered[0]))
    for ln in lines:
        if re.search(r"likely|sign|factor|missing|transposed|σ|instead of|NaN|not a number|shape", ln, re.I):
            return clip(_NUMBER.sub("…", ln))
    if lines[0].startswith(("NotImplementedError", "unanswered")):
        return "not answered"
    return clip(_NUMBER.sub("…", lines[0]))


def histogram_text(percentages: list[float]) -> str:
    """A text histogram of scores in percent (the figure's text alternative)."""
    counts = [sum(lo <= p < hi for p in percentages) for lo, hi in _BINS]
    top = max(counts) or 1
    rows = []
    for (lo, hi), n in zip(_BINS, counts, strict=True):
        label = f"{lo:>3}-{min(hi, 100):>3.0f}%"
        rows.append(f"  {label} | {'#' * round(30 * n / top):<30} {n}")
    return "\n".join(rows)


_POINTS = re.compile(r"\s*\(\d+(\.\d+)?\s+points?\)\s*$")


def _headings(source: str) -> list[tuple[int, str]]:
    """The headings of a markdown cell: (level, text without a trailing "(N points)")."""
    return [(len(m.group(1)), _POINTS.sub("", m.group(2)).strip())
            for m in re.finditer(r"(?m)^(#{1,6})\s+(.+)$", source)]


def _title(levels: dict[int, str]) -> str:
    """An exercise's title from the headings above it: "Exercise 2.2 (a) ..." for a sub-heading."""
    if not levels:
        return ""
    deepest = max(levels)
    parents = [levels[k] for k in sorted(levels) if 1 < k < deepest]
    short = re.match(r"(Exercise\s+[\d.]+)", parents[-1]) if parents else None
    return f"{short.group(1)} {levels[deepest]}" if short else levels[deepest]


def exercises_of(course: CourseDir, assignment: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """``[(title, [(notebook, test cell id), ...]), ...]`` in notebook order, from the source notebooks.

    An exercise is the test cells under one heading; its title is that heading (with its exercise's
    number for a sub-heading such as "(a) ...").
    """
    out: dict[str, list[tuple[str, str]]] = {}
    for path in sorted((course.source / assignment).glob("*.ipynb")):
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError, AttributeError):
            continue
        levels: dict[int, str] = {}
        for cell in cells:
            if cell.get("cell_type") == "markdown":
                for level, text in _headings("".join(cell.get("source") or "")):
                    levels = {k: v for k, v in levels.items() if k < level} | {level: text}
            elif is_test(cell) and grade_id(cell):
                out.setdefault(_title(levels) or path.stem, []).append((path.stem, grade_id(cell)))
    return list(out.items())


@dataclass
class _Row:
    title: str
    max_score: float = 0.0
    points: list[float] = field(default_factory=list)  # per student, before late penalties
    diagnoses: Counter = field(default_factory=Counter)  # diagnosis -> students


def _rows(course: CourseDir, assignment: str, finals: list[Final]) -> list[_Row]:
    """One row per exercise of ``assignment``, in notebook order (cells the source no longer has last)."""
    where = {cell: title for title, cells in exercises_of(course, assignment) for cell in cells}
    rows: dict[str, _Row] = {title: _Row(title) for title, _ in exercises_of(course, assignment)}
    for f in finals:
        mine: dict[str, list] = defaultdict(list)
        for c in f.result.cells:
            mine[where.get((c.notebook, c.cell), f"{c.notebook}:{c.cell}")].append(c)
        for title, cells in mine.items():
            row = rows.setdefault(title, _Row(title))
            row.max_score = max(row.max_score, sum(c.max_score for c in cells))
            row.points.append(sum(c.score for c in cells))
            found = {d for d in (diagnosis_of(c.message) for c in cells if c.score < c.max_score) if d}
            row.diagnoses.update(found)  # each student once per diagnosis
    return [r for r in rows.values() if r.points]


def _students(n: int) -> str:
    return f"{n} student{'s' if n != 1 else ''}"


def _assignment_lines(assignment: str, finals: list[Final], rows: list[_Row]) -> tuple[list[str], list[float]]:
    """The assignment's section of the report, and its scores in percent before late penalties."""
    raw = [100 * f.raw_score / f.result.max_score if f.result.max_score else 0.0 for f in finals]
    late = [f for f in finals if f.late_penalty > 0]
    lines = [f"== {assignment}: {len(finals)} submission(s), mean {sum(raw) / len(raw):.0f}% before late "
             f"penalties ==", f"  {'exercise':<44}  mean points  full marks"]
    for row in rows:
        mean = sum(row.points) / len(row.points)
        full = sum(p >= row.max_score for p in row.points)
        lines.append(for_terminal(f"  {clip(row.title, 44):<44}  {mean:>5.2f}/{row.max_score:<5g}  "
                                  f"{_students(full)} of {len(row.points)}"))
        for text, n in sorted(row.diagnoses.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(for_terminal(f"      {_students(n)}: {text}"))
    if late:
        lost = sum(f.late_penalty for f in late)
        after = [100 * f.result.score / f.result.max_score if f.result.max_score else 0.0 for f in finals]
        lines.append(f"  late penalties: {len(late)} submission(s) lost {lost:g} point(s) in all; the mean "
                     f"after penalties is {sum(after) / len(after):.0f}%")
    lines += ["  score histogram (before late penalties):", histogram_text(raw), ""]
    return lines, raw


def _figure(height: float):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(8, height), dpi=100)


def _histogram_png(percentages_by_assignment: dict[str, list[float]], path: Path, alt: str) -> None:
    fig = _figure(3.5)
    ax = fig.add_subplot()
    names = list(percentages_by_assignment)
    hatches = ["//", "..", "xx", "\\\\", "oo", "--"]
    edges = [0, 20, 40, 60, 80, 100]
    width = 20 / (len(names) + 1)
    for i, name in enumerate(names):
        counts = [sum(lo <= p < hi for p in percentages_by_assignment[name]) for lo, hi in _BINS]
        ax.bar([e + (i + 0.5) * width for e in edges[:-1]], counts, width=width, label=name,
               hatch=hatches[i % len(hatches)], edgecolor="black")
    ax.set_xticks(edges)
    ax.set_xlabel("score before late penalties (% of the assignment's points)")
    ax.set_ylabel("submissions")
    ax.set_title("Score distribution per assignment (hatching tells assignments apart)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, metadata={"Description": alt})


def _exercises_png(rows: list[tuple[str, _Row]], path: Path, alt: str) -> None:
    """Mean points per exercise, in percent of its points, one bar each (labels carry the numbers too)."""
    fig = _figure(max(2.5, 0.32 * len(rows) + 1.2))
    ax = fig.add_subplot()
    labels = [f"{a[:2]} {clip(r.title.replace('$', ''), 48)}" for a, r in rows]
    means = [100 * sum(r.points) / len(r.points) / r.max_score if r.max_score else 0.0 for _, r in rows]
    y = list(range(len(rows)))[::-1]
    ax.barh(y, means, color="0.55", edgecolor="black")
    for yi, m in zip(y, means, strict=True):
        ax.text(min(m + 1, 88), yi, f"{m:.0f}%", va="center", fontsize=7)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlim(0, 100)
    ax.set_xlabel("mean points before late penalties (% of the exercise's points)")
    ax.set_title("Mean points per exercise, in notebook order")
    fig.tight_layout()
    fig.savefig(path, metadata={"Description": alt})


def _review_lines(finals: list[Final]) -> list[str]:
    """Unsandboxed grades, the static scan's flags, late work and what needs attention."""
    results = [f.result for f in finals]
    lines = []
    unsandboxed = [r for r in results if not r.sandboxed]
    if unsandboxed:
        lines += [f"Graded WITHOUT the sandbox (--no-sandbox): {len(unsandboxed)} submission(s); their code ran "
                  "with the grader's rights", ""]
    flagged = [r for r in results if r.flags]
    lines.append(f"Flagged by the static scan (review; not a verdict): {len(flagged)} submission(s)")
    for r in flagged:
        lines.append(for_terminal(f"  {r.student}/{r.assignment}: " + "; ".join(r.flags[:4])
                                  + (f" (+{len(r.flags) - 4} more)" if len(r.flags) > 4 else "")))
    late = late_lines(finals)
    lines += ["", f"Late (penalty from nbgrader's late-submission plugin): {len(late)} submission(s)", *late, ""]
    attention = [r for r in results if not r.status.ok]
    lines.append(f"Needs your attention: {len(attention)} submission(s)")
    lines += [for_terminal(f"  {r.student}/{r.assignment}: {r.status}") for r in attention] or ["  nothing"]
    return lines


def headline(finals: list[Final]) -> str:
    """The report's first line: submissions graded and students who handed in, apart from the missing rows.

    A roster student with no submission has a row of the record (:mod:`autograder.grading.missing`), but it
    is neither a graded submission nor a student who handed something in.
    """
    graded = [f for f in finals if not is_missing(f.result)]
    line = (f"Course report: {len(graded)} graded submission(s) from "
            f"{len({f.result.student for f in graded})} student(s)")
    missing = len(finals) - len(graded)
    return line + (f"; {missing} expected submission(s) missing (listed under attention)" if missing else "")


def make_report(course: CourseDir) -> str:
    """Write ``report.txt``, ``report.png`` and ``report-exercises.png`` in the course folder; return the text.

    Scores are the gradebook's (manual grades, extra credit and late penalties included): the record is
    brought up to date first, as ``export`` does (:func:`autograder.grading.record.update_record`).
    """
    if not load_results(course):
        raise CourseError(f"nothing graded yet in {course.root}: run `backprop-course grade` first")
    finals = update_record(course, progress=lambda m: None)
    by_assignment: dict[str, list[Final]] = defaultdict(list)
    for f in finals:
        if not is_missing(f.result):  # no submission: listed under attention, not in the means
            by_assignment[f.result.assignment].append(f)
    lines = [headline(finals), HOW_CHECKED, ""]
    percentages: dict[str, list[float]] = {}
    chart: list[tuple[str, _Row]] = []
    order = {name: i for i, name in enumerate(course.assignments())}
    for assignment in sorted(by_assignment, key=lambda a: (order.get(a, len(order)), a)):
        rows = _rows(course, assignment, by_assignment[assignment])
        section, percentages[assignment] = _assignment_lines(assignment, by_assignment[assignment], rows)
        lines += section
        chart += [(assignment, r) for r in rows]
    text = "\n".join(lines + _review_lines(finals))
    (course.root / "report.txt").write_text(text + "\n")
    _histogram_png(percentages, course.root / "report.png",
                   "Score histogram per assignment; the same counts as text in report.txt")
    _exercises_png(chart, course.root / "report-exercises.png",
                   "Mean points per exercise; the same numbers as the exercise tables in report.txt")
    return text + (f"\n\n(written to {course.root / 'report.txt'}, {course.root / 'report.png'} and "
                   f"{course.root / 'report-exercises.png'})")
