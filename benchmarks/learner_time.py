"""How long a learner needs for each notebook: the figures behind every notebook's "Estimated time".

Run: ``.venv/bin/python -m benchmarks.learner_time`` (add ``--no-run`` to skip executing the notebooks).

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


def main(argv: list[str] | None = None) -> None:
    """Print one row per notebook: the counts, the parts of the estimate, the total and what the notebook says."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-run", action="store_true", help="do not execute the notebooks (running = 0)")
    args = parser.parse_args(argv)
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
