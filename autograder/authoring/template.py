"""`backprop-course new-exercise`: start a graded exercise with every part in place.

The exercise asks for the derivative of a one-variable expression, ``FUNCTION(u)``; the author gives the
expression and its derivative (which may call functions of earlier exercises, ``--uses``). Appended to a
source notebook (created with a title and a locked setup cell if it does not exist):

1. the heading ``## Exercise N.M — title (P points)`` and what to derive;
2. the answer cell (``### BEGIN SOLUTION`` … ``### END SOLUTION`` around the model solution);
3. the test cell (locked, P points): the visible self-check with course_lib's checker, then a hidden part
   with a named :func:`~course_lib.checks.hidden_case`; for each ``--uses`` function, its reference
   (the notebook's own solution, copied into the hidden part) registered with
   :func:`~course_lib.checks.use_references`, and the checks run inside
   :func:`~course_lib.checks.judge_alone`, so a mistake there costs points in its own exercise only;
4. the worked derivation (a folded markdown cell tagged ``worked-solution``: dropped from the release);
5. an ungraded "Your turn" question and its model answer (a locked folded cell the release keeps).

Every text part is a stub to rewrite in the author's words; the code runs and is graded as it is.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.errors import CourseError
from autograder.notebook.cells import answer_cells, grade_id, solution_text
from autograder.notebook.worked import WORKED_TAG

__all__ = ["new_exercise"]

SETUP = """import math

import numpy as np

from course_lib.gradcheck import check_derivative
from course_lib.checks import hidden_case, judge_alone, use_references"""


def _nbgrader(gid: str, *, solution: bool = False, grade: bool = False, points: float | None = None) -> dict:
    info: dict[str, Any] = {"grade": grade, "grade_id": gid, "locked": not solution, "schema_version": 3,
                            "solution": solution}
    if points is not None:
        info["points"] = points
    return {"nbgrader": info}


def _reference(nb: Any, function: str) -> tuple[str, str]:
    """(the reference's source, renamed ``_reference_<function>``; the exercise that defines it)."""
    heading = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## Exercise "):
            heading = cell.source.split("\n", 1)[0][3:].split(" — ")[0]
        if cell not in list(answer_cells(nb)):
            continue
        tree = ast.parse(solution_text(cell.source))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == function:
                node.name = f"_reference_{function}"
                return ast.unparse(node), heading
    raise CourseError(f"--uses {function}: no answer cell of this notebook defines {function}(); give a function "
                      "an earlier exercise's answer cell defines")


def _test_source(function: str, expression: str, uses: list[tuple[str, str, str]]) -> str:
    visible = (f'check_derivative(lambda u: {expression}, {function}, [0.7, -1.3], name="d({expression})/du", '
               f'exercise="{function}").assert_ok()')
    hidden = (f'check_derivative(lambda u: {expression}, {function}, [2.5, -0.2, 1.1], name="d({expression})/du", '
              f'exercise="{function}").assert_ok()')
    lines = [f"# Self-check: {function} against a numerical derivative of {expression} at two points."]
    if not uses:
        lines += [visible, f'print("✓ {function}")', "### BEGIN HIDDEN TESTS",
                  'with hidden_case("points u the visible check does not try: large, small and negative"):',
                  f"    {hidden}", "### END HIDDEN TESTS"]
        return "\n".join(lines)
    lines += ["# Judged on its own: the grader runs it with the notes' own " + ", ".join(u for u, _, _ in uses) + ".",
              "### BEGIN HIDDEN TESTS"]
    for _, source, _ in uses:
        lines += [*source.split("\n"), ""]
    refs = ", ".join(f"{u}=_reference_{u}" for u, _, _ in uses)
    lines += [f"use_references(globals(), {refs})", "### END HIDDEN TESTS",
              "USES = {  # what it calls: where that is written, and a self-check of it (replace `lambda: None`)"]
    lines += [f'    "{u}": ("{where}", lambda: None),' for u, _, where in uses]
    lines += ["}", f'with judge_alone(globals(), "{function}", USES):', f"    {visible}", f'print("✓ {function}")',
              "### BEGIN HIDDEN TESTS",
              f'with judge_alone(globals(), "{function}", USES), hidden_case("points u the visible check does not '
              'try: large, small and negative"):', f"    {hidden}", "### END HIDDEN TESTS"]
    return "\n".join(lines)


def _cells(number: str, title: str, function: str, expression: str, derivative: str, points: float,
           uses: list[tuple[str, str, str]]) -> list[Any]:
    answer = textwrap.dedent(f'''\
        def {function}(u: float) -> float:
            """Return d({expression})/du, evaluated at the input u."""
            ### BEGIN SOLUTION
            return {derivative}
            ### END SOLUTION''')
    worked = new_markdown_cell(
        "<details>\n<summary>Worked derivation (open after you have tried)</summary>\n\n"
        f"AUTHOR: derive $\\frac{{d}}{{du}}\\left({expression}\\right)$ step by step, and name the most likely slip."
        f"\n\nResult: `{derivative}`.\n</details>", metadata={"tags": [WORKED_TAG]})
    return [
        new_markdown_cell(f"## Exercise {number} — {title} ({points:g} points)\n\nDerive the derivative of "
                          f"$f(u) = {expression}$ on paper first (AUTHOR: the questions that guide the derivation), "
                          f"then write it as `{function}(u)`.", metadata=_nbgrader(f"{function}-text")),
        new_code_cell(answer, metadata=_nbgrader(f"{function}-answer", solution=True)),
        new_code_cell(_test_source(function, expression, uses),
                      metadata=_nbgrader(f"{function}-test", grade=True, points=points)),
        worked,
        new_markdown_cell(f"**Your turn (not graded).** AUTHOR: a question about `{function}` to think about "
                          "(for example: where is it zero, and why?).", metadata=_nbgrader(f"{function}-your-turn")),
        new_code_cell(f"# Your turn (not graded): try {function} here.\n", metadata={"tags": ["demo"]}),
        new_markdown_cell("<details>\n<summary>Model answer (open after you have tried)</summary>\n\n"
                          "AUTHOR: the model answer to the question above.\n</details>",
                          metadata=_nbgrader(f"{function}-model-answer")),
    ]


def new_exercise(notebook: Path, *, number: str, title: str, function: str, expression: str, derivative: str,
                 points: float = 2, uses: list[str] | tuple[str, ...] = ()) -> Path:
    """Append a complete exercise to the source notebook ``notebook`` (created if missing); returns its path."""
    if not function.isidentifier():
        raise CourseError(f"--function {function!r} is not a Python name: use letters, digits and _ (e.g. d_cube)")
    for code, what in ((expression, "--expression"), (derivative, "--derivative")):
        try:
            ast.parse(code, mode="eval")
        except SyntaxError as exc:
            raise CourseError(f"{what} {code!r} is not a Python expression of u ({exc.msg})") from None
    if notebook.exists():
        nb = nbformat.read(str(notebook), as_version=4)
    else:
        notebook.parent.mkdir(parents=True, exist_ok=True)
        nb = new_notebook(metadata={"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                                   "name": "python3"}, "language_info": {"name": "python"}})
        nb.cells = [new_markdown_cell(f"# {notebook.stem}\n\nAUTHOR: what this notebook teaches.",
                                      metadata=_nbgrader("text-title")),
                    new_code_cell(SETUP, metadata=_nbgrader("setup"))]
    refs = [(u, *_reference(nb, u)) for u in uses]
    added = _cells(number, title, function, expression, derivative, points, [(u, s, w) for u, s, w in refs])
    taken = {grade_id(c) for c in nb.cells} & {grade_id(c) for c in added if grade_id(c)}
    if taken:
        raise CourseError(f"{notebook.name} already has cells {', '.join(sorted(taken))}: choose another --function")
    nb.cells += added
    nbformat.write(nb, str(notebook))
    return notebook
