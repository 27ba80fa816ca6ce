"""One run per submission, every test cell judged outside the student's process (issue 21).

The student host runs the submission's own cells once; the grader runs the source's test cells and calls
the student's functions as data (``autograder.isolation.session``). These tests run the host unsandboxed
(the sandboxed path is the same code under ``sandbox_command``: tests/test_integrity*.py, the benchmark).
"""

from __future__ import annotations

import ast
import copy
import resource
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.coursedir.course import NOTEBOOKS_DIR
from autograder.isolation import session as session_module
from autograder.isolation.session import Session, discard_prestarted, prestart_host, run_session
from autograder.notebook.cells import grade_id, is_answer, is_test

pytestmark = pytest.mark.grading

ENGINE = NOTEBOOKS_DIR / "05-write-the-engine" / "write-the-engine.ipynb"


def _source(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def _cell(nb: nbformat.NotebookNode, gid: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if grade_id(c) == gid)


def _scores(path: Path, nb: nbformat.NotebookNode) -> dict[str, float]:
    session = run_session(path, nb, cell_timeout=60)
    assert session.problem == "", session.problem
    return {g: v.score for g, v in session.verdicts.items()}


# ------------------------------------------------------------------------------ 05 is judged outside, as data
NO_OP_HELPERS = """
def topological_order(root):
    return []

check_order = check_backward = check_network = lambda *a, **k: None
check_derivative = check_gradients = lambda *a, **k: type("Ok", (), {"assert_ok": lambda self: None})()
"""

TAMPERING = {
    "helpers rebound to no-ops": NO_OP_HELPERS,
    "numpy and math patched": NO_OP_HELPERS + """
import math
np.allclose = np.isclose = lambda *a, **k: True
math.isclose = lambda *a, **k: True
""",
    "course_lib's checker patched": NO_OP_HELPERS + """
import course_lib.gradcheck as _g
_g.check_derivative = _g.check_gradients = check_derivative
""",
    "Value compares equal to anything": NO_OP_HELPERS + """
Value.__eq__ = lambda self, other: True
Value.__hash__ = lambda self: 0
""",
}


@pytest.mark.parametrize("how", sorted(TAMPERING))
def test_05_tampering_with_the_helpers_scores_0(how):
    """topological_order returning [] and backward doing nothing, with the test helpers "disabled", score 0."""
    nb = _source(ENGINE)
    _cell(nb, "order-answer").source = TAMPERING[how]
    _cell(nb, "backward-answer").source = "def backward(root):\n    pass\n"
    scores = _scores(ENGINE, nb)
    assert scores["order-test"] == scores["backward-test"] == scores["backward-notes-test"] == 0.0
    assert scores["network-test"] == 3.0  # network_loss is right, and judged with the references alone


def test_05_correct_answers_get_full_marks_and_blanks_0():
    nb = _source(ENGINE)
    assert _scores(ENGINE, nb) == {"order-test": 3.0, "backward-test": 3.0, "backward-notes-test": 2.0,
                                   "network-test": 3.0}
    for cell in filter(is_answer, nb.cells):
        cell.source = "# YOUR CODE HERE\nraise NotImplementedError()"
    assert set(_scores(ENGINE, nb).values()) == {0.0}


def test_05_a_returned_node_is_the_node_that_was_sent():
    """An order made of copies of the nodes (same values, new objects) is not the graph's order."""
    nb = _source(ENGINE)
    _cell(nb, "order-answer").source += (
        "\n_right = topological_order\n"
        "def topological_order(root):\n"
        "    return [Value(n.data, n.parents, n.local, n.op, n.label) for n in _right(root)]\n")
    assert _scores(ENGINE, nb)["order-test"] == 0.0


# ------------------------------------------------------------------------------ nothing the kernel shows counts
HOOKS = {
    "post_run_cell displays a number": "get_ipython().events.register('post_run_cell', "
                                       "lambda result: get_ipython().displayhook(0.5))\n",
    "post_run_cell prints a number": "get_ipython().events.register('post_run_cell', lambda result: print(0.25))\n",
    "display(0.5) in an answer cell": "from IPython.display import display\ndisplay(0.5)\n",
    "the answer cell ends on a number": "0.5\n",
}


@pytest.mark.parametrize("how", sorted(HOOKS))
def test_numbers_the_students_process_shows_change_no_score(how, tmp_path):
    """nbgrader records exactly the grader's verdicts: full marks for a right answer, 0 for a blank one."""
    from nbgrader.utils import determine_grade

    from autograder.isolation.one_run import OneRun

    assignment = NOTEBOOKS_DIR / "02-sigmoid-chain"
    path = assignment / "sigmoid-chain.ipynb"
    for blank in (False, True):
        nb = _source(path)
        answers = [c for c in nb.cells if is_answer(c)]
        if blank:
            for cell in answers:
                cell.source = "# YOUR CODE HERE\nraise NotImplementedError()"
        answers[0].source = HOOKS[how] + answers[0].source
        run = OneRun(source_dir=str(NOTEBOOKS_DIR), results_dir=str(tmp_path), timeout=60.0)
        nb, _ = run.preprocess(nb, {"nbgrader": {"notebook": "sigmoid-chain", "assignment": "02-sigmoid-chain"}})
        for cell in filter(is_test, nb.cells):
            score, points = determine_grade(cell, None)
            assert score == (0.0 if blank else points), (grade_id(cell), cell.outputs)


# ------------------------------------------------------------------------------ reference calls are bounded
def _tiny_course(tmp_path: Path, answer: str, test: str) -> tuple[Path, nbformat.NotebookNode]:
    def cell(source: str, **meta: object) -> nbformat.NotebookNode:
        c = nbformat.v4.new_code_cell(source)
        c.metadata["nbgrader"] = {"schema_version": 3, "locked": not meta.get("solution"), "solution": False,
                                  "grade": False, **meta}
        return c

    source = nbformat.v4.new_notebook(cells=[
        cell("import numpy as np\nfrom course_lib.checks import judge_alone, use_references", grade_id="setup"),
        cell("def double(x):\n    return 2 * np.asarray(x)", grade_id="a1", solution=True),
        cell("def quadruple(x):\n    return double(double(x))", grade_id="a2", solution=True),
        cell("CALLS = []\ndef _ref(x):\n    CALLS.append(1)\n    return 2 * np.asarray(x)\n"
             "use_references(globals(), double=_ref)\n"
             f"with judge_alone(globals(), 'quadruple', {{'double': ('1', lambda: None)}}):\n    {test}\n",
             grade_id="t", grade=True, points=1),
    ])
    nbformat.write(source, str(tmp_path / "source.ipynb"))
    submission = copy.deepcopy(source)
    submission.cells[2].source = answer
    return tmp_path / "source.ipynb", submission


HUGE = {
    "a million zeros": "def quadruple(x):\n    return double(np.zeros(10**6))[:1] * 0 + 4 * x",
    "a huge keyword argument": "def quadruple(x):\n    double(x=np.ones((3000, 300)))\n    return 4 * x",
    "a long list": "def quadruple(x):\n    double(list(range(200_000)))\n    return 4 * x",
    "many small calls": "def quadruple(x):\n    for _ in range(10**6):\n        double(np.ones(4000))\n"
                        "    return 4 * x",
}


@pytest.mark.parametrize("how", sorted(HUGE))
def test_a_reference_call_with_a_huge_argument_is_refused(how, tmp_path, monkeypatch):
    """The grader never runs a reference on more than its budget: the test fails and says why.

    The CPU budget is set to 1 s here (5 s in a real run): the cost of one refusal is the budget, twice (the two
    phases), and reading the calls counts against it (before it did not: 14.9 s of CPU against a 10 s budget).
    """
    from autograder.isolation import verify

    monkeypatch.setattr(verify, "CALLBACK_SECONDS", 1.0)
    path, submission = _tiny_course(tmp_path, HUGE[how], "assert np.allclose(quadruple(3.0), 12.0)")
    before, cpu = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.process_time()
    session = run_session(path, submission, cell_timeout=30)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024  # MiB
    cpu = time.process_time() - cpu
    verdict = session.verdicts["t"]
    assert verdict.score == 0.0, verdict
    # refused by the grader; calls each within budget end by the grader's time budget or the call's time limit
    assert "refused by the grader" in verdict.message or (how == "many small calls" and "in time" in verdict.message)
    assert grown < 150, f"the grader grew by {grown:.0f} MiB"
    assert cpu < 2 * verify.CALLBACK_SECONDS + 3, f"the grader spent {cpu:.1f} s of CPU"  # two phases, setup


def test_a_reference_call_within_the_budget_is_served(tmp_path):
    path, submission = _tiny_course(tmp_path, "def quadruple(x):\n    return double(double(x))",
                                    "assert np.allclose(quadruple(np.ones(1000)), 4.0) and len(CALLS) == 2")
    assert _scores(path, submission) == {"t": 1.0}


# ------------------------------------------------------------------------------ the notebook runs as it was run
LAST = {"01-chain-rule": "chain-answer", "02-sigmoid-chain": "gd-answer", "03-many-paths": "deltas-answer",
        "04-all-parameters": "step-answer"}


def _split(nb: nbformat.NotebookNode, gid: str, how: str) -> None:
    """Move the last answer's function into a new cell right below the answer cell (a helper or a fix)."""
    index = next(i for i, c in enumerate(nb.cells) if grade_id(c) == gid)
    answer = nb.cells[index]
    name = [n.name for n in ast.parse(answer.source).body if isinstance(n, ast.FunctionDef)][-1]
    new = nbformat.v4.new_code_cell(answer.source)
    if how == "helper":  # the answer calls a helper defined in a cell after the last answer cell
        new.source = answer.source.replace(f"def {name}(", f"def _{name}_helper(")
        answer.source = f"def {name}(*args, **kwargs):\n    return _{name}_helper(*args, **kwargs)\n"
    else:  # a draft in the answer cell, the working function in a new cell below it
        answer.source = f"def {name}(*args, **kwargs):\n    return None  # draft\n"
    nb.cells.insert(index + 1, new)


@pytest.mark.parametrize("how", ["helper", "fix below"])
@pytest.mark.parametrize("assignment", sorted(LAST))
def test_a_cell_added_after_the_last_answer_counts(assignment, how):
    path = next((NOTEBOOKS_DIR / assignment).glob("*.ipynb"))
    nb = _source(path)
    _split(nb, LAST[assignment], how)
    scores = _scores(path, nb)
    tests = {grade_id(c): float(c.metadata["nbgrader"]["points"]) for c in _source(path).cells if is_test(c)}
    assert scores == tests


def test_a_cell_below_a_test_does_not_change_that_tests_verdict():
    """Each test sees the notebook's state at its place: breaking a function after its test costs nothing."""
    nb = _source(ENGINE)
    index = next(i for i, c in enumerate(nb.cells) if grade_id(c) == "order-test")
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell("def topological_order(root):\n    return []"))
    scores = _scores(ENGINE, nb)
    assert scores["order-test"] == 3.0


# ------------------------------------------------------------------------------ pre-started hosts (issue 21's speed)
HOST = [sys.executable, "-m", "autograder.isolation.student_host"]
QUADRUPLE = "def quadruple(x):\n    return double(double(x))\n"


def _printed(session: Session, index: int) -> str:
    return "".join(out.get("text", "") for out in session.outputs[index] if out.get("output_type") == "stream")


def test_a_prestarted_host_serves_one_submission_and_keeps_nothing_of_another(tmp_path):
    """Each submission gets its own fresh pre-started process: never one another submission ran in."""
    path, first = _tiny_course(tmp_path, "import os\nLEAK = 'first'\nprint('pid', os.getpid())\n" + QUADRUPLE,
                               "assert np.allclose(quadruple(np.ones(3)), 4.0)")
    second = copy.deepcopy(first)
    second.cells[2].source = "import os\nprint('pid', os.getpid(), globals().get('LEAK', 'nothing'))\n" + QUADRUPLE
    try:
        prestart_host(HOST, None, 60.0)
        prestart_host(HOST, None, 60.0)
        pids = [host.proc.pid for host, _ in session_module._PRESTARTED[tuple(HOST)]]
        one = run_session(path, first, HOST, None, 60.0)
        two = run_session(path, second, HOST, None, 60.0)
        assert not session_module._PRESTARTED[tuple(HOST)]  # each was handed out once
        three = run_session(path, second, HOST, None, 60.0)  # none left: a new process
    finally:
        discard_prestarted()
    assert [s.problem for s in (one, two, three)] == ["", "", ""]
    assert [s.verdicts["t"].score for s in (one, two, three)] == [1.0, 1.0, 1.0]
    assert _printed(one, 2) == f"pid {pids[0]}\n"
    assert _printed(two, 2) == f"pid {pids[1]} nothing\n"
    assert int(_printed(three, 2).split()[1]) not in pids


def test_an_unused_prestarted_host_is_stopped():
    prestart_host(HOST, None, 60.0)
    host, _ = session_module._PRESTARTED[tuple(HOST)][0]
    discard_prestarted()
    assert host.proc.returncode is not None
    assert not session_module._PRESTARTED
