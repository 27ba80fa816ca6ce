"""Two per-submission costs of the grader, before and after: ``python -m benchmarks.grader_cpu [--repeat N]``.

Each row times the old way and the new way of one step in the same process and prints their ratio:

- nbgrader's cell-metadata check (``jsonschema.validate`` per graded cell, which checks the schema and builds a
  validator on every call) against :func:`autograder.notebook.metadata.compiled_validate`, over every nbgrader
  cell of the course's notebooks;
- splitting a cell into its statements with ``ast.get_source_segment`` (which splits the whole cell again for
  every statement) against :mod:`autograder.notebook.dependencies`' split-once reading, over every code cell.

Prints one table; no assertion.
"""

from __future__ import annotations

import argparse
import ast
import json
import time
from collections.abc import Callable
from pathlib import Path


def _seconds(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="best of N runs of each [5]")
    args = parser.parse_args()

    import jsonschema
    import nbformat
    import nbgrader.nbgraderformat.common as common

    from autograder.coursedir.course import NOTEBOOKS_DIR
    from autograder.notebook import dependencies
    from autograder.notebook.metadata import compiled_validate

    notebooks = [nbformat.read(str(p), as_version=4) for p in sorted(NOTEBOOKS_DIR.glob("*/*.ipynb"))]
    schema = json.loads((Path(common.root) / "v3.json").read_text())
    metas = [c.metadata["nbgrader"] for nb in notebooks for c in nb.cells if "nbgrader" in c.metadata]
    codes = [c.source for nb in notebooks for c in nb.cells if c.cell_type == "code"]

    def segments_each_time() -> None:
        for code in codes:
            try:
                tree = ast.parse(code)
            except SyntaxError:
                continue
            [ast.get_source_segment(code, node) for node in tree.body]

    rows = [
        (f"metadata check, {len(metas)} cells", lambda: [jsonschema.validate(m, schema) for m in metas],
         lambda: [compiled_validate(m, schema) for m in metas]),
        (f"statements of {len(codes)} code cells", segments_each_time,
         lambda: [dependencies._statements(code) for code in codes]),
    ]
    print("| step | before (ms) | after (ms) | ratio |\n|---|---|---|---|")
    for name, before, after in rows:
        b, a = _seconds(before, args.repeat), _seconds(after, args.repeat)
        print(f"| {name} | {b * 1000:.1f} | {a * 1000:.1f} | {b / a:.1f}x |")


if __name__ == "__main__":
    main()
