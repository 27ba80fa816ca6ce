"""No graded answer before the student gives it (issue 23, item 1), scanned in each student release.

Each release is built in-process with nbgrader's own release preprocessors (the worked derivations dropped,
the solution regions and hidden tests cleared: :func:`released`), no kernel and no gradebook needed. Every
cell a student reads *before or in* an exercise (prompts, locked helper cells with their messages, demos)
is scanned for that exercise's graded answer: formulas as text patterns, tuples, and the numeric values of the
graded results at the notes' points (printed to 4 significant digits, as the notebooks print them). What each
notebook is scanned for is listed in :data:`ANSWERS`; cells after an exercise's tests may state its answer.
"""

from __future__ import annotations

import math
import re

import nbformat
import numpy as np
import pytest

from testkit.notebook_helpers import EXERCISE_RE, is_test, nbgrader_meta, notebook_paths, read

PATHS = {p.parent.name: p for p in notebook_paths()}


def released(name: str):
    """The student's copy of one notebook, as ``backprop-course release`` makes it (without a gradebook)."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    from autograder.notebook.worked import RemoveWorkedSolutions

    nb = read(PATHS[name])
    for pre in (RemoveWorkedSolutions(), ClearSolutions(), ClearHiddenTests()):
        nb, _ = pre.preprocess(nb, {})
    return nbformat.from_dict(nb)


def _numbers(*values: float) -> list[str]:
    return [re.escape(f"{v:.4g}") for v in values if abs(v) > 1e-3]


def _w131_paths() -> list[float]:
    from course_lib.models import init_params, network_graph
    from course_lib.paths import enumerate_paths

    g = network_graph(init_params(seed=1), np.array([0.8, -0.5]), np.array([1.0, 0.0]))
    return [p.product for p in enumerate_paths(g["w_131"], g["L"])]


def _exp_exp(x: float) -> float:
    return math.exp(math.exp(x * x)) * math.exp(x * x) * 2 * x


#: notebook -> exercise -> the patterns of its graded answer (regular expressions)
ANSWERS: dict[str, dict[str, list[str]]] = {
    "01-chain-rule": {
        "1.1": [r"y\s*=\s*1\s*/\s*h_?2", r"\\frac\{1\}\{h_2\}", r"1/h2", r"example 2: the new step"],
        "1.2": [r"2\s*\*\s*u\b", r"=\s*2u\b", r"[−-]\s*1\s*/\s*u\s*(\*\*\s*2|²)", r"-\\frac\{1\}\{u\^2\}"],
        "1.3": [r"e\^\{x\^2\}\\cdot\s*2x", *_numbers(_exp_exp(0.5), _exp_exp(-0.9))],
        "1.4": [r"-\\frac\{2x\}", r"[−-]2x\s*/\s*e"],
    },
    "02-sigmoid-chain": {
        "2.2": [r"σ\(a\)\s*\(1\s*[−-]\s*σ\(a\)\)", r"\\sigma\(a\)\s*\\?\(?\s*1\s*-\s*\\sigma\(a\)",
                r"s\s*\*\s*\(1 - s\)",
                r"\b(y|h1|h2)\s*\(1\s*[−-]\s*(y|h1|h2)\)", r"\*\s*\(1 - (y|h1|h2)\)", r"dL/dy\s*=\s*[−-]\s*1\s*/\s*y",
                r"[−-]1/y\b", r"-\\frac\{1\}\{y\}"],
        "2.3": [r'd\["dL_dy"\]\s*\*\s*d\["dy_dh2"\]\s*\*\s*d\["dh2_dh1"\]'],
    },
    "03-many-paths": {
        "3.1": [r"highlight_paths", r"path_chooser\(", r"\.backward\(\)",
                *_numbers(*_w131_paths(), sum(_w131_paths()))],
        "3.2": [r"\(1,\s*3\)", r'\("h_22",\s*"h_21",\s*"h_22"\)', r"term 3 is term 1", r"excess is one copy",
                *_numbers(_w131_paths()[1])],
        "3.3": [r"yhat\s*-\s*y\b", r"\\hat y_k\s*-\s*y_k", r"\\hat y\s*-\s*y\b"],
        "3.4": [r'W2"\]\.T\s*@\s*delta2', r"np\.outer\(delta1"],
    },
    "04-all-parameters": {
        "4.1": [r"\(Yhat\s*-\s*Y\)\s*/", r"dA2\.T\s*@\s*H1", r"dA1\.T\s*@\s*X", r"G_2\s*=\s*\(\\hat Y\s*-\s*Y\)"],
        "4.3": [r"theta\s*-\s*lr\s*\*\s*gradient"],
    },
    "05-write-the-engine": {
        "5.1": [r"order\[::-1\]", r"visited\.add"],
        "5.2": [r"parent\.grad\s*\+=\s*node\.grad\s*\*\s*local", r"node\.grad\s*=\s*0\.0"],
    },
}


def _cells_up_to_each_exercise(nb) -> dict[str, list]:
    """exercise number -> every cell from the top of the notebook to the exercise's last test cell."""
    out, current, last_test = {}, None, {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                m = EXERCISE_RE.match(line.strip())
                if m:
                    current = m["number"]
        if current and is_test(cell):
            last_test[current] = index
    for number, end in last_test.items():
        out[number] = nb.cells[: end + 1]
    return out


@pytest.mark.parametrize("name", list(ANSWERS))
def test_no_cell_up_to_an_exercise_states_its_graded_answer(name):
    nb = released(name)
    assert not any("BEGIN SOLUTION" in c.source or "BEGIN HIDDEN" in c.source for c in nb.cells)
    upto = _cells_up_to_each_exercise(nb)
    found = []
    for number, patterns in ANSWERS[name].items():
        assert number in upto, f"{name}: no Exercise {number}"
        for cell in upto[number]:
            for pattern in patterns:
                hit = re.search(pattern, cell.source)
                if hit:
                    where = nbgrader_meta(cell).get("grade_id") or cell.get("id", "?")
                    found.append(f"Exercise {number}'s answer {hit.group(0)!r} in cell {where}")
    assert not found, "\n".join(found)


def test_the_scan_finds_an_answer_that_is_there():
    """The scan can fail: the source notebooks' worked derivations and solutions hold the answers."""
    source = "\n".join(c.source for c in read(PATHS["03-many-paths"]).cells)
    assert re.search(ANSWERS["03-many-paths"]["3.2"][0], source)
    source = "\n".join(c.source for c in read(PATHS["02-sigmoid-chain"]).cells)
    assert any(re.search(p, source) for p in ANSWERS["02-sigmoid-chain"]["2.2"][:3])
