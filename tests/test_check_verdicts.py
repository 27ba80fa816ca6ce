"""`backprop-course check` reads course_lib.checks' verdicts from a test cell's error (no kernel needed)."""

from __future__ import annotations

import nbformat

from autograder.student.check import CellCheck, _judge, format_check


def _cell(grade_id: str, points: int, *outputs: dict) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("check()")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "points": points, "solution": False,
                                 "locked": True, "schema_version": 3}
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


def _error(ename: str, evalue: str) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": []}


WAIT = "grad_w1 cannot be judged on its own yet: it calls your forward_chain (Exercise 2.1), which is wrong: …"
RIGHT = "gradient_descent_step: your update is right for the gradients your grad_w1 … return; but your grad_w1 …"


def test_a_cell_that_cannot_be_judged_yet_is_not_scored_zero():
    r = _judge(_cell("grad-w1-test", 3, _error("NotJudgedYet", WAIT)))
    assert not r.judged and r.points is None and r.max_points == 3 and "cannot be judged" in r.message


def test_an_exercise_right_for_the_students_own_functions_gets_its_points():
    r = _judge(_cell("gd-test", 2, _error("OwnCodeRight", RIGHT)))
    assert r.judged and r.passed and r.points == 2 and "your update is right" in r.message


def test_any_other_failure_scores_zero_as_nbgrader_does():
    assert _judge(_cell("t", 2, _error("AssertionError", "wrong"))).points == 0
    stderr = {"output_type": "stream", "name": "stderr", "text": "a warning\n"}
    assert _judge(_cell("t", 2, stderr, _error("OwnCodeRight", RIGHT))).points == 0  # stderr still scores 0
    assert _judge(_cell("t", 2)).points == 2


def test_the_table_says_not_judged_yet_and_leaves_those_points_out_of_the_total():
    text = format_check([CellCheck("forward-test", 0, 2, "KeyError: 'a2'"), CellCheck("grad-w1-test", None, 3, WAIT),
                         CellCheck("gd-test", 2, 2, RIGHT)])
    lines = text.splitlines()
    assert lines[2].split() == ["grad-w1-test", "-/3", "not", "judged", "yet"]
    assert lines[3].startswith("gd-test") and "passed (your own code" in lines[3]
    assert "total: 2/4 on the visible tests" in text
    assert "not judged yet: 3 more points" in text
    assert "0/3" not in text
