"""How long a learner needs for each notebook: the figures behind every notebook's "Estimated time".

Run: ``.venv/bin/python -m benchmarks.learner_time`` (add ``--no-run`` to skip executing the notebooks).

One source of truth for points and times: ``--write`` stores each notebook's points (the sum of its graded
cells) and the model's estimate (without running) in its metadata, ``{"syllabus": {"points", "minutes",
"topic"}}``, then rewrites the first cell's "Estimated time" and "Points" and 00's overview table from that
metadata (:func:`overview_table`); ``tests/test_syllabus.py`` fails on any disagreement.

No one was timed here: the estimate is a model of a learner working through the notebook, built from what
the notebook holds, with every constant below stated so an instructor can replace it by a pilot's timing.

* reading: the prose a learner reads (markdown, folded model answers and derivations included, since a
  learner opens them after trying) at :data:`WORDS_PER_MINUTE` words a minute, a pace for technical text
  with formulas, plus :data:`MINUTES_PER_DISPLAY_FORMULA` for each displayed formula (``$$``) to follow;
* given code: the lines of code the learner reads (demo and exercise-prompt cells; the folded
  self-check helpers and the tests' bodies are not read) at :data:`CODE_LINES_PER_MINUTE`;
* exercises: :data:`MINUTES_PER_ANSWER` per answer cell to derive and write it, plus
  :data:`MINUTES_PER_POINT` per point for checking and fixing (points measure the work an exercise asks);
* widgets and "Your turn" questions: :data:`MINUTES_PER_INTERACTIVE` each;
* running: the measured time to run every cell in a fresh kernel.

The total is rounded up to 5 minutes.
"""

from __future__ import annotations

import argparse
import math
import re
import time
from pathlib import Path

from autograder.notebook.cells import is_answer, is_test
from testkit.notebook_helpers import execute, notebook_paths, read

WORDS_PER_MINUTE = 110
MINUTES_PER_DISPLAY_FORMULA = 0.5
CODE_LINES_PER_MINUTE = 12
MINUTES_PER_ANSWER = 5
MINUTES_PER_POINT = 1.5
MINUTES_PER_INTERACTIVE = 2

_WIDGET = re.compile(r"\b(explorer|stepper|chooser|slider_explorer|gate_explorer|path_chooser|backward_stepper)\b")
_TIME = re.compile(r"\*\*Estimated time:\*\*\s*(\d+)")
_TABLE = re.compile(r"^\| assignment \| topic \| points \| time \|\n(?:\|.*\|\n?)+", re.M)
SYLLABUS = "syllabus"  # the notebook-metadata key: {"points": int, "minutes": int, "topic": str}


def _words(markdown: str) -> int:
    text = re.sub(r"\$\$.*?\$\$", " formula ", markdown, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return len(re.findall(r"[\w′'’$\\{}^_]+", text))


def estimate(path: Path, run: bool = True) -> dict[str, float]:
    """The parts of one notebook's estimate (minutes) and the counts behind them."""
    nb = read(path)
    words = formulas = code_lines = answers = interactives = 0
    points = 0.0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            words += _words(cell.source)
            formulas += cell.source.count("$$") // 2
            interactives += cell.source.count("Your turn")
        elif is_test(cell):
            points += float(cell.metadata.get("nbgrader", {}).get("points", 0) or 0)
        elif is_answer(cell):
            answers += 1
            code_lines += sum(1 for line in cell.source.split("### BEGIN SOLUTION")[0].splitlines() if line.strip())
        elif not cell.metadata.get("jupyter", {}).get("source_hidden"):
            code_lines += sum(1 for line in cell.source.splitlines() if line.strip())
            interactives += bool(_WIDGET.search(cell.source))
    run_s = 0.0
    if run:
        started = time.perf_counter()
        execute(nb, path.parent)
        run_s = time.perf_counter() - started
    parts = {
        "reading": words / WORDS_PER_MINUTE + formulas * MINUTES_PER_DISPLAY_FORMULA,
        "code": code_lines / CODE_LINES_PER_MINUTE,
        "exercises": answers * MINUTES_PER_ANSWER + points * MINUTES_PER_POINT,
        "interactive": interactives * MINUTES_PER_INTERACTIVE,
        "running": run_s / 60,
    }
    total = 5 * math.ceil(sum(parts.values()) / 5)
    stated = _TIME.search(nb.cells[0].source) if nb.cells else None
    return {**parts, "total": total, "stated": float(stated.group(1)) if stated else math.nan,
            "words": words, "formulas": formulas, "code_lines": code_lines, "answers": answers,
            "points": points, "interactives": interactives, "run_s": run_s}


def syllabus(path: Path) -> dict:
    """The notebook's ``syllabus`` metadata: points, minutes and topic."""
    return dict(read(path).metadata.get(SYLLABUS) or {})


def overview_table(paths: list[Path]) -> str:
    """00's table of the assignments, made from each notebook's ``syllabus`` metadata (the one source)."""
    rows = ["| assignment | topic | points | time |", "|---|---|---|---|"]
    for path in paths:
        meta = syllabus(path)
        rows.append(f"| `{path.parent.name}` | {meta['topic']} | {meta['points']} | {meta['minutes']} min |")
    return "\n".join(rows) + "\n"


def header_lines(meta: dict) -> tuple[str, str]:
    """The first cell's "Estimated time" and "Points" phrases for a notebook's metadata."""
    points = (f"**Points:** {meta['points']} in total." if meta["points"]
              else "**Points:** this notebook is not graded (0 points).")
    return f"**Estimated time:** {meta['minutes']} minutes.", points


def write(paths: list[Path]) -> None:
    """Store points and minutes in each notebook's metadata and make the headers and 00's table agree."""
    import nbformat

    for _ in range(3):  # the table and headers are prose too: repeat until the estimates are stable
        for path in paths:
            nb = read(path)
            meta = dict(nb.metadata.get(SYLLABUS) or {})
            meta["points"] = int(sum(float(c.metadata["nbgrader"].get("points", 0)) for c in nb.cells if is_test(c)))
            meta["minutes"] = int(estimate(path, run=False)["total"])
            nb.metadata[SYLLABUS] = meta
            time_phrase, points_phrase = header_lines(meta)
            first = re.sub(r"\*\*Estimated time:\*\* \d+ minutes\.", time_phrase, nb.cells[0].source)
            first = re.sub(r"\*\*Points:\*\* (?:\d+ in total\.|this notebook is not graded \(0 points\)\.)",
                           points_phrase, first)
            nb.cells[0].source = first
            nbformat.write(nb, str(path))
        start = read(paths[0])
        cell = next(c for c in start.cells if _TABLE.search(c.source))
        cell.source = _TABLE.sub(lambda _match: overview_table(paths), cell.source)
        nbformat.write(start, str(paths[0]))


def main(argv: list[str] | None = None) -> None:
    """Print one row per notebook: the counts, the parts of the estimate, the total and what the notebook says."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-run", action="store_true", help="do not execute the notebooks (running = 0)")
    parser.add_argument("--write", action="store_true",
                        help="store points and minutes in each notebook's metadata; rewrite headers and 00's table")
    args = parser.parse_args(argv)
    if args.write:
        write(notebook_paths())
        args.no_run = True
    print("| notebook | words | formulas | code lines | answers | points | interactive | run (s) | "
          "reading | code | exercises | interactive | estimate (min) | notebook says |")
    print("|---|" + "---|" * 13)
    for path in notebook_paths():
        e = estimate(path, run=not args.no_run)
        print(f"| {path.parent.name} | {e['words']} | {e['formulas']} | {e['code_lines']} | {e['answers']} | "
              f"{e['points']:g} | {e['interactives']} | {e['run_s']:.1f} | {e['reading']:.0f} | {e['code']:.0f} | "
              f"{e['exercises']:.0f} | {e['interactive']:.0f} | {e['total']:.0f} | {e['stated']:.0f} |")


if __name__ == "__main__":
    main()
