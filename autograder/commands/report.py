"""`backprop-course report`: how the class did on each exercise, and what needs the instructor's attention."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

from autograder.coursedir.course import CourseDir
from autograder.errors import CourseError
from autograder.grading.missing import MISSING
from autograder.grading.record import load_results, update_record
from autograder.grading.worker import SubmissionResult
from autograder.untrusted import for_terminal

__all__ = ["diagnosis_of", "histogram_text", "make_report"]

_BINS = [(0, 20), (20, 40), (40, 60), (60, 80), (80, 100.0001)]


def diagnosis_of(message: str) -> str:
    """The one line of a failure message that says what is most likely wrong."""
    if not message:
        return ""
    lines = [ln.strip(" -•*") for ln in message.splitlines() if ln.strip()]
    numbered = [re.sub(r"^1\.\s+", "", ln) for ln in lines if re.match(r"^1\.\s", ln)]
    if numbered:  # the gradient checker puts its diagnosis first, numbered: "1. W1: the sign is flipped ..."
        return re.sub(r"-?\d+\.\d+(e[-+]?\d+)?", "…", numbered[0])[:120]
    for ln in lines:
        if re.search(r"likely|sign|factor|missing|transposed|σ|instead of|NaN|not a number|shape", ln, re.I):
            return re.sub(r"-?\d+\.\d+(e[-+]?\d+)?", "…", ln)[:120]
    if lines[0].startswith(("NotImplementedError", "unanswered")):
        return "not answered"
    return re.sub(r"-?\d+\.\d+(e[-+]?\d+)?", "…", lines[0])[:120]


def histogram_text(percentages: list[float]) -> str:
    """A text histogram of scores in percent (the figure's text alternative)."""
    counts = [sum(lo <= p < hi for p in percentages) for lo, hi in _BINS]
    top = max(counts) or 1
    rows = []
    for (lo, hi), n in zip(_BINS, counts, strict=True):
        label = f"{lo:>3}-{min(hi, 100):>3.0f}%"
        rows.append(f"  {label} | {'#' * round(30 * n / top):<30} {n}")
    return "\n".join(rows)


def _png(percentages_by_assignment: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.5), dpi=100)
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
    ax.set_xlabel("score (% of the assignment's points)")
    ax.set_ylabel("submissions")
    ax.set_title("Score distribution per assignment (hatching tells assignments apart)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def make_report(course: CourseDir) -> str:
    """Write ``report.txt`` and ``report.png`` in the course folder and return the text.

    Scores are the gradebook's (manual grades, extra credit and late penalties included): the record is
    brought up to date first, as ``export`` does (:func:`autograder.grading.record.update_record`).
    """
    if not load_results(course):
        raise CourseError(f"nothing graded yet in {course.root}: run `backprop-course grade` first")
    finals = update_record(course, progress=lambda m: None)
    results: list[SubmissionResult] = [f.result for f in finals]
    lines = [f"Course report: {len(results)} graded submission(s) from {len({r.student for r in results})} "
             f"student(s)", ""]
    by_assignment: dict[str, list[SubmissionResult]] = defaultdict(list)
    for r in results:
        if not str(r.status).startswith(MISSING):  # no submission: listed under attention, not in the means
            by_assignment[r.assignment].append(r)
    percentages = {}
    for assignment in sorted(by_assignment):
        rows = by_assignment[assignment]
        pct = [100 * r.score / r.max_score if r.max_score else 0.0 for r in rows]
        percentages[assignment] = pct
        lines.append(f"== {assignment}: {len(rows)} submission(s), mean {sum(pct) / len(pct):.0f}% ==")
        cells: dict[str, list] = defaultdict(list)
        for r in rows:
            for c in r.cells:
                cells[f"{c.notebook}:{c.cell}"].append(c)
        width = max(len(k) for k in cells) if cells else 10
        lines.append(f"  {'exercise':<{width}}  mean points  full marks  most common diagnosis")
        for key, cs in cells.items():
            mean = sum(c.score for c in cs) / len(cs)
            full = sum(c.score >= c.max_score for c in cs) / len(cs)
            diag = Counter(d for d in (diagnosis_of(c.message) for c in cs if c.score < c.max_score) if d)
            common = f"{diag.most_common(1)[0][0]} ({diag.most_common(1)[0][1]}x)" if diag else "-"
            lines.append(for_terminal(f"  {key:<{width}}  {mean:>5.2f}/{cs[0].max_score:<5g}  {full:>9.0%}  {common}"))
        lines += ["  score histogram:", histogram_text(pct), ""]
    unsandboxed = [r for r in results if not r.sandboxed]
    if unsandboxed:
        lines += [f"Graded WITHOUT the sandbox (--no-sandbox): {len(unsandboxed)} submission(s); their code ran "
                  "with the grader's rights", ""]
    flagged = [r for r in results if r.flags]
    lines.append(f"Flagged by the static scan (review; not a verdict): {len(flagged)} submission(s)")
    for r in flagged:
        lines.append(for_terminal(f"  {r.student}/{r.assignment}: " + "; ".join(r.flags[:4])
                                  + (f" (+{len(r.flags) - 4} more)" if len(r.flags) > 4 else "")))
    lines.append("")
    late = [f for f in finals if f.late_penalty > 0]
    lines.append(f"Late (penalty from nbgrader's late-submission plugin): {len(late)} submission(s)")
    for f in late:
        lines.append(f"  {f.result.student}/{f.result.assignment}: handed in {f.timestamp:%Y-%m-%d %H:%M} UTC, "
                     f"due {f.due:%Y-%m-%d %H:%M} UTC, penalty {f.late_penalty:g} point(s)")
    lines.append("")
    attention = [r for r in results if not r.status.startswith("ok")]
    lines.append(f"Needs your attention: {len(attention)} submission(s)")
    lines += [for_terminal(f"  {r.student}/{r.assignment}: {r.status}") for r in attention] or ["  nothing"]
    text = "\n".join(lines)
    (course.root / "report.txt").write_text(text + "\n")
    _png(percentages, course.root / "report.png")
    return text + f"\n\n(written to {course.root / 'report.txt'} and {course.root / 'report.png'})"
