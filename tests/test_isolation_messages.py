"""Each exercise is judged on its own, its hidden tests are self-contained, and its messages say so (issue 12).

In-process (``exec`` of the source notebooks' cells, no kernel): fast checks of what
``tests/test_planned_mistakes.py`` then confirms with the real grader. Also the pieces: ``course_lib.checks.judging``
and the re-check's forwarding of a test's references into the student's process.
"""

from __future__ import annotations

import copy
import re

import nbformat
import pytest

from course_lib.checks.judging import (
    REGISTRY_NAME,
    NotJudgedYet,
    RightGivenYours,
    hidden_case,
    judge_alone,
    use_references,
)
from testkit.isolation_cases import GRADED, Mistake, broken_cells, exercise_tests, mistakes, source_path
from testkit.notebook_helpers import is_answer, is_test, nbgrader_meta, read, run_in_process

MISTAKES = mistakes() + broken_cells()
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.S)


def _cells(notebook: str, mistake: Mistake | None = None, *, only_test: str | None = None,
           released: bool = False) -> list:
    """The source notebook's cells, with ``mistake`` applied; ``only_test``: every other test cell removed;
    ``released``: hidden tests removed (what a student runs)."""
    cells = []
    for cell in read(source_path(notebook)).cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if is_test(cell) and only_test is not None and gid != only_test:
            continue
        cell = copy.deepcopy(cell)
        if mistake is not None and is_answer(cell) and gid == mistake.answer:
            cell.source = mistake.rewrite(cell.source)
        if released and is_test(cell):
            cell.source = HIDDEN.sub("", cell.source)
        cells.append(cell)
    return cells


def _run(notebook: str, cells: list) -> dict:
    return run_in_process(cells, cwd=source_path(notebook).parent)


def _failed(results: dict) -> dict[str, str]:
    return {gid: r.error for gid, r in results.items() if not r.passed}


# ------------------------------------------------------------------------------------------- in-process
@pytest.mark.kernel  # runs notebook cells
@pytest.mark.parametrize("mistake", MISTAKES, ids=[f"{m.student}:{m.name}" for m in MISTAKES])
def test_in_process_a_mistake_fails_only_its_own_exercise(mistake):
    failed = _failed(_run(mistake.notebook, _cells(mistake.notebook, mistake)))
    own = exercise_tests(mistake.notebook)[mistake.answer]
    assert failed, f"{mistake.name}: nothing failed"
    assert set(failed) <= own, {g: e for g, e in failed.items() if g not in own}


def _test_ids(notebook: str) -> list[str]:
    return [nbgrader_meta(c)["grade_id"] for c in read(source_path(notebook)).cells if is_test(c)]


TEST_CELLS = [(nb, gid) for nb in GRADED for gid in _test_ids(nb)]


@pytest.mark.kernel  # runs notebook cells
@pytest.mark.parametrize(("notebook", "test_id"), TEST_CELLS, ids=[f"{n[:2]}:{g}" for n, g in TEST_CELLS])
def test_every_test_cell_is_self_contained(notebook, test_id):
    """Run each test cell with every other test cell removed: on the correct answers it passes; on every
    planned mistake of the notebook it raises no NameError, and passes unless the mistake is in its own
    exercise (its references come from its own hidden part, not from another test cell)."""
    results = _run(notebook, _cells(notebook, only_test=test_id))
    assert results[test_id].passed, results[test_id].error
    own_exercise = {a for a, tests in exercise_tests(notebook).items() if test_id in tests}
    for mistake in (m for m in MISTAKES if m.notebook == notebook):
        result = _run(notebook, _cells(notebook, mistake, only_test=test_id))[test_id]
        if mistake.answer in own_exercise and mistake.name.startswith("broken"):
            assert not result.passed  # its own function is missing: a NameError is the right failure here
            continue
        assert "NameError" not in result.error, (mistake.name, result.error)
        if mistake.answer not in own_exercise:
            assert result.passed, (mistake.name, result.error)


# ------------------------------------------------------------------------------------------- messages
def _message(notebook: str, answer: str, test_id: str, *, released: bool = False) -> str:
    mistake = next(m for m in MISTAKES if m.notebook == notebook and m.answer == answer and m.student.endswith("hand"))
    results = _run(notebook, _cells(notebook, mistake, released=released))
    assert not results[test_id].passed, f"{test_id} passed"
    return results[test_id].error


@pytest.mark.kernel  # runs notebook cells
def test_released_self_check_says_the_update_is_right_and_which_exercise_to_fix_first():
    """A student's own notebook has no references: 2.6's self-check names the wrong gradient's exercise."""
    message = _message("02-sigmoid-chain", "grad-w1-answer", "gd-test", released=True)
    assert message.startswith("OwnCodeRight: gradient_descent_step: your update w' = w − η·dL/dw is right for the "
                              "gradients your grad_w1, grad_w2 and grad_w3 return; but your grad_w1 (Exercise 2.3) is "
                              "wrong"), message
    assert "Fix Exercise 2.3 first" in message and "costs points in Exercise 2.3 only" in message
    assert "subtract" not in message  # before: "subtract (adding climbs the loss)" for a right update


@pytest.mark.kernel  # runs notebook cells
def test_released_step_check_in_04_says_the_step_is_right_and_fix_4_1_first():
    message = _message("04-all-parameters", "backward-answer", "step-test", released=True)
    assert message.startswith("OwnCodeRight: training_step: your step θ' = θ − η·Δθ is right for the gradient "
                              "your backward returns; but your backward (Exercise 4.1) is wrong"), message
    assert "subtract" not in message


@pytest.mark.kernel  # runs notebook cells
def test_released_step_check_with_a_wrong_update_and_a_wrong_backward_claims_nothing_false():
    """Both wrong: the message may not call the step right, nor give the step's advice computed from a wrong
    gradient; it names the wrong backward."""
    both = next(m for m in MISTAKES if m.notebook == "04-all-parameters" and m.answer == "backward-answer"
                and m.student.endswith("hand"))
    step = next(m for m in MISTAKES if m.notebook == "04-all-parameters" and m.answer == "step-answer"
                and m.student.endswith("hand"))
    cells = _cells("04-all-parameters", both, released=True)
    for cell in cells:
        if nbgrader_meta(cell).get("grade_id") == "step-answer":
            cell.source = step.rewrite(cell.source)
    message = _run("04-all-parameters", cells)["step-test"].error
    assert "training_step cannot be judged on its own yet: it calls your backward (Exercise 4.1)" in message, message
    assert "is right" not in message


@pytest.mark.kernel  # runs notebook cells
def test_released_4_3_check_names_to_vector_alone():
    message = _message("04-all-parameters", "flatten-answer", "step-test", released=True)
    assert "it calls your to_vector (Exercise 4.2), which is wrong" in message, message
    assert "from_vector" not in message.split("(The grader")[0]  # from_vector is right: not blamed


@pytest.mark.kernel  # runs notebook cells
def test_released_3_2_check_names_3_1_instead_of_a_value_error():
    message = _message("03-many-paths", "paths-answer", "notes-test", released=True)
    assert "it calls your path_products (Exercise 3.1), which is wrong" in message, message


@pytest.mark.kernel  # runs notebook cells
def test_03_a_sign_flipped_output_delta_is_called_so_and_3_4_names_3_3():
    """y − ŷ for δ2 (issue 16): 3.3 says the sign is flipped; a released 3.4 that calls it says fix 3.3 first."""
    message = _message("03-many-paths", "delta-answer", "delta-test")
    assert "Gradient check FAILED for output_delta" in message, message
    assert "a2: the sign is flipped: received = -1 × expected at every checked entry" in message, message
    released = _message("03-many-paths", "delta-answer", "deltas-test", released=True)
    assert "it calls your output_delta (Exercise 3.3), which is wrong" in released, released
    assert "Fix Exercise 3.3 first" in released


@pytest.mark.kernel  # runs notebook cells
@pytest.mark.parametrize(
    ("wrong", "sentence"),
    [
        ("return -y / yhat + (1 - y) / (1 - yhat)",
         "∂L/∂ŷ_k alone: the factor ∂ŷ_k/∂a_2k (the sigmoid's derivative) is missing"),
        ("return yhat * (1 - yhat)", "∂ŷ_k/∂a_2k alone (the sigmoid's derivative): the factor ∂L/∂ŷ_k is missing"),
        ("return (-y / yhat + (1 - y) / (1 - yhat)) * yhat * (1 - yhat)", "a NaN or inf never passes"),
    ],
)
def test_03_an_output_delta_with_a_factor_missing_or_unsimplified_is_named(wrong, sentence):
    mistake = Mistake("03-many-paths", "delta-answer", wrong, lambda code: code.replace("return yhat - y", wrong))
    error = _failed(_run("03-many-paths", _cells("03-many-paths", mistake)))["delta-test"]
    assert sentence in error, error


@pytest.mark.kernel  # runs notebook cells
@pytest.mark.parametrize(
    ("wrong", "sentence"),
    [
        ("return notes_formula", "this is the value of the notes' formula itself"),
        ("return true_gradient - notes_formula", "the sign: the question asks for (the formula) − (the gradient)"),
        ("return 2 * via_yhat2", "twice the excess: write the formula and the gradient as sums of path products"),
        ("return via_yhat1", "this is the product along the path through ŷ_1: is that the path of the term that "
                             "repeats?"),
        ("return true_gradient", "this is the true gradient"),
    ],
)
def test_03_a_wrong_overstatement_is_named(wrong, sentence):
    mistake = Mistake("03-many-paths", "notes-answer", wrong,
                      lambda code: code.replace("return notes_formula - true_gradient", wrong))
    failed = _failed(_run("03-many-paths", _cells("03-many-paths", mistake)))
    assert set(failed) == {"notes-test"}, failed
    assert "notes_overstatement(...) = (the notes' formula) − dL/dw_131: expected" in failed["notes-test"]
    assert sentence in failed["notes-test"], failed["notes-test"]


@pytest.mark.kernel  # runs notebook cells
def test_03_the_repeated_term_names_the_two_terms_and_what_to_compare():
    message = _message("03-many-paths", "notes-terms-answer", "notes-terms-test")
    assert message.startswith("AssertionError: repeated_term: terms 1 and 2 are different paths; at this example "
                              "term 1 = "), message
    assert "the two in the middle name the unit the path goes through" in message


@pytest.mark.kernel  # runs notebook cells
def test_released_1_3_check_names_the_local_derivative():
    message = _message("01-chain-rule", "local-answer", "backward-exp-exp-test", released=True)
    assert "it calls your d_square (Exercise 1.2), which is wrong" in message, message


@pytest.mark.kernel  # runs notebook cells
def test_the_empty_chain_is_a_visible_case_with_a_named_message():
    message = _message("01-chain-rule", "chain-answer", "chain-test", released=True)
    assert "chain_backward(0.7, ...) for the chain x (no steps: y = x, dy/dx = 1) raised IndexError" in message


@pytest.mark.kernel  # runs notebook cells
def test_a_failing_hidden_case_is_named_without_its_code():
    """A 1.5 answer right for chains of two or more steps but wrong for one step fails a hidden case only."""
    def one_step_at_the_output(code: str) -> str:
        return code.replace("    return value, grad\n",
                            "    if len(steps) == 1:\n        grad = steps[0][1](value)\n    return value, grad\n")

    wrong = Mistake("01-chain-rule", "chain-answer", "one-step chains at the output", one_step_at_the_output)
    released = _run("01-chain-rule", _cells("01-chain-rule", wrong, released=True))
    assert released["chain-test"].passed, released["chain-test"].error
    message = _run("01-chain-rule", _cells("01-chain-rule", wrong))["chain-test"].error
    assert message.startswith("AssertionError: Hidden case failed: a chain of one step (x → cube). "), message
    assert "check_chain(" not in message and "rng" not in message  # no hidden code
    assert "-0.6" not in message and "1.08" not in message  # no hidden values (the point, the expected slope)


# ----------------------------------------------------------------------------- course_lib.checks.judging
def test_judge_alone_swaps_and_restores_even_after_a_failure():
    def mine():
        return "mine"

    ns = {"helper": mine}
    use_references(ns, helper=lambda: "reference")
    with judge_alone(ns, "exercise", {"helper": ("Exercise 9.9", lambda: None)}):
        assert ns["helper"]() == "reference"
    assert ns["helper"] is mine
    with pytest.raises(ZeroDivisionError), judge_alone(ns, "exercise", {"helper": ("Exercise 9.9", lambda: None)}):
        assert ns["helper"]() == "reference"
        _ = 1 / 0
    assert ns["helper"] is mine


def test_judge_alone_without_references_names_the_wrong_dependency():
    def wrong_check():
        raise AssertionError("helper(1): expected 2, received 3.\nmore lines")

    ns = {"helper": lambda: 3}
    with pytest.raises(AssertionError) as info, judge_alone(ns, "my_step", {"helper": ("Exercise 9.1", wrong_check)}):
        raise AssertionError("the step is wrong")
    text = str(info.value)
    assert text.startswith("my_step cannot be judged on its own yet: it calls your helper (Exercise 9.1), which is "
                           "wrong: helper(1): expected 2, received 3.")
    assert "more lines" not in text and "the step is wrong" not in text  # its advice may be false
    # a right dependency: the exercise's own failure comes through unchanged
    with pytest.raises(AssertionError, match="^the step is wrong$"), judge_alone(
        ns, "my_step", {"helper": ("Exercise 9.1", lambda: None)}
    ):
        raise AssertionError("the step is wrong")


def test_right_given_yours_is_said_only_with_a_wrong_dependency():
    def wrong_check():
        raise AssertionError("helper is wrong.")

    ns = {"helper": lambda: 3}
    with pytest.raises(AssertionError) as info, judge_alone(ns, "my_step", {"helper": ("Exercise 9.1", wrong_check)}):
        raise RightGivenYours("your step is right for what your helper returns")
    assert str(info.value).startswith("my_step: your step is right for what your helper returns; but your helper "
                                      "(Exercise 9.1) is wrong: helper is wrong. Fix Exercise 9.1 first")


def test_an_unanswered_exercise_or_dependency_is_called_so():
    def helper():
        raise NotImplementedError()

    def unwritten():
        raise NotImplementedError()

    def calls_a_blank():
        return unwritten()

    blank = helper

    def my_step():
        raise NotImplementedError()

    def step_calling_helper():
        return ns["helper"]()

    ns = {"helper": blank}
    with pytest.raises(NotImplementedError), judge_alone(ns, "my_step", {"helper": ("Exercise 9.1", blank)}):
        my_step()  # the exercise itself is blank: nbgrader's "not answered yet" stays
    # the exercise is written but calls a blank one: not judged yet (before: "not answered", scored 0 by check)
    with pytest.raises(NotJudgedYet, match=r"it calls your helper \(Exercise 9.1\), which is wrong: it is not "
                       r"written yet"), judge_alone(ns, "step_calling_helper", {"helper": ("Exercise 9.1", blank)}):
        step_calling_helper()
    with pytest.raises(AssertionError, match=r"it calls your helper \(Exercise 9.1\), which is wrong: it is not "
                       r"written yet"), judge_alone(ns, "my_step", {"helper": ("Exercise 9.1", blank)}):
        raise AssertionError("the step is wrong")
    # the dependency is written but calls a blank one: said so, not "not written yet"
    with pytest.raises(NotJudgedYet, match=r"which is wrong: it calls a function that is not written yet"), \
            judge_alone({"helper": calls_a_blank}, "my_step", {"helper": ("Exercise 9.1", calls_a_blank)}):
        raise AssertionError("the step is wrong")


def test_use_references_replaces_the_earlier_registration_and_refuses_non_functions():
    ns: dict = {}
    use_references(ns, a=len)
    use_references(ns, b=abs)
    assert ns[REGISTRY_NAME] == {"b": abs}
    with pytest.raises(TypeError, match="the reference for a is not a function"):
        use_references(ns, a=3)


def test_hidden_case_names_the_case_and_drops_the_traceback():
    with pytest.raises(AssertionError) as info, hidden_case("the empty chain, y = x, dy/dx = 1"):
        [][0]  # the student's IndexError
    assert str(info.value).startswith("Hidden case failed: the empty chain, y = x, dy/dx = 1. your code raised "
                                      "IndexError: list index out of range\n(Values at hidden points are not shown")
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_hidden_case_shows_the_likely_mistake_but_not_the_hidden_values():
    with pytest.raises(AssertionError) as info, hidden_case("three more points"):
        raise AssertionError("forward_chain(-1.372, {'w1': 0.25}): expected 0.4892705369, received -1.2e-05. "
                             "Likely mistake: a2 = w2·h1 (see Exercise 2.1).")
    text = str(info.value)
    assert "forward_chain(…, {'w1': …}): expected …, received …. Likely mistake: a2 = w2·h1 (see Exercise 2.1)." in text
    assert not re.search(r"\d\.\d", text.replace("Exercise 2.1", "")), text


# ------------------------------------------------------------------------------ the re-check forwards swaps
@pytest.mark.kernel  # runs notebook cells
def test_the_recheck_forwards_a_tests_references_into_the_students_process(tmp_path):
    """A student function calling another by name uses the test's reference in the re-check too, for the
    duration of the call only."""
    from autograder.isolation.session import verify_notebook

    def cell(source, **meta):
        c = nbformat.v4.new_code_cell(source)
        c.metadata["nbgrader"] = {"schema_version": 3, "locked": not meta.get("solution"), "solution": False,
                                  "grade": False, **meta}
        return c

    source = nbformat.v4.new_notebook(cells=[
        cell("from course_lib.checks import judge_alone, use_references", grade_id="setup"),
        cell("def double(x):\n    return 2 * x", grade_id="a1", solution=True),
        cell("def quadruple(x):\n    return double(double(x))", grade_id="a2", solution=True),
        cell("assert double(3) == 6", grade_id="t1", grade=True, points=1),
        cell("use_references(globals(), double=lambda x: 2 * x)\n"
             "with judge_alone(globals(), 'quadruple', {'double': ('1', lambda: None)}):\n"
             "    assert quadruple(3) == 12\n", grade_id="t2", grade=True, points=1),
        cell("assert quadruple(1) == 4, 'the reference must be gone after the block'", grade_id="t3", grade=True,
             points=1),
    ])
    submission = copy.deepcopy(source)
    submission.cells[1].source = "def double(x):\n    return 3 * x"  # wrong in a1 only
    nbformat.write(source, str(tmp_path / "source.ipynb"))
    nbformat.write(submission, str(tmp_path / "submission.ipynb"))
    verdicts, problem = verify_notebook(tmp_path / "source.ipynb", tmp_path / "submission.ipynb")
    assert problem == ""
    assert {g: v.score for g, v in verdicts.items()} == {"t1": 0.0, "t2": 1.0, "t3": 0.0}
    # a1's cell does not even run (a syntax error): double is missing, and quadruple is still judged alone
    submission.cells[1].source = "def double(x):\n    return 2 * x +"
    nbformat.write(submission, str(tmp_path / "submission.ipynb"))
    verdicts, problem = verify_notebook(tmp_path / "source.ipynb", tmp_path / "submission.ipynb")
    assert problem == ""
    assert {g: v.score for g, v in verdicts.items()} == {"t1": 0.0, "t2": 1.0, "t3": 0.0}


@pytest.mark.kernel  # runs notebook cells
def test_a_reference_kept_by_the_students_code_is_useless_after_the_call(tmp_path):
    """The student's process may call a test's reference only while the call that brought it runs."""
    from autograder.isolation.session import verify_notebook

    def cell(source, **meta):
        c = nbformat.v4.new_code_cell(source)
        c.metadata["nbgrader"] = {"schema_version": 3, "locked": not meta.get("solution"), "solution": False,
                                  "grade": False, **meta}
        return c

    source = nbformat.v4.new_notebook(cells=[
        cell("from course_lib.checks import judge_alone, use_references", grade_id="setup"),
        cell("def double(x):\n    return 2 * x", grade_id="a1", solution=True),
        cell("def quadruple(x):\n    return double(double(x))", grade_id="a2", solution=True),
        cell("use_references(globals(), double=lambda x: 2 * x)\n"
             "with judge_alone(globals(), 'quadruple', {'double': ('1', lambda: None)}):\n"
             "    assert quadruple(3) == 12\n", grade_id="t2", grade=True, points=1),
        cell("assert double(5) == 10", grade_id="t1", grade=True, points=1),
    ])
    submission = copy.deepcopy(source)
    submission.cells[1].source = "KEPT = []\ndef double(x):\n    return KEPT[0](x) if KEPT else 3 * x"
    submission.cells[2].source = "def quadruple(x):\n    KEPT.append(double)\n    return double(double(x))"
    nbformat.write(source, str(tmp_path / "source.ipynb"))
    nbformat.write(submission, str(tmp_path / "submission.ipynb"))
    verdicts, problem = verify_notebook(tmp_path / "source.ipynb", tmp_path / "submission.ipynb")
    assert verdicts["t2"].score == 1.0  # each test cell's process is forked afresh: KEPT is empty in t1's
    assert verdicts["t1"].score == 0.0 and problem == ""
    # kept and called again within the same test cell, after the call that brought it: refused
    source.cells[3].source += "assert double(5) == 10\n"
    nbformat.write(source, str(tmp_path / "source.ipynb"))
    verdicts, problem = verify_notebook(tmp_path / "source.ipynb", tmp_path / "submission.ipynb")
    assert verdicts["t2"].score == 0.0 and "never given" in problem


# ------------------------------------------------------------------------------------ 05: write the engine
def test_05_assigning_instead_of_accumulating_names_the_node_and_its_paths():
    message = _message("05-write-the-engine", "backward-answer", "backward-test")
    assert message.startswith("AssertionError: Exercise 5.2, backward on the graph fan_out_graph(0.7, -1.2): dL/ds "
                              "expected 1.7056"), message
    assert "A path was dropped: s feeds 2 arrows (from r, L) and reaches L along 2 paths" in message
    assert "1 of 2 contributions lost" in message and "dL/ds is the sum over every arrow that leaves it" in message
    assert "+=" not in message  # the failing graph, not the algorithm


def test_05_a_backward_that_does_not_reset_is_called_not_idempotent():
    def no_reset(code: str) -> str:
        assert "        node.grad = 0.0\n" in code
        return code.replace("        node.grad = 0.0\n", "        pass\n")

    mistake = Mistake("05-write-the-engine", "backward-answer", "no reset", no_reset)
    failed = _failed(_run("05-write-the-engine", _cells("05-write-the-engine", mistake)))
    # every graded test of 5.2 runs backward twice on one graph (issue 23)
    assert set(failed) == {"backward-test", "backward-notes-test"}, failed
    assert "is not idempotent: after a second backward(L), dL/dx is" in failed["backward-test"]
    assert "still in the graph when the second run starts" in failed["backward-test"]


def test_05_released_backward_check_with_a_wrong_order_says_fix_5_1_first():
    message = _message("05-write-the-engine", "order-answer", "backward-test", released=True)
    assert "backward cannot be judged on its own yet: it calls your topological_order (Exercise 5.1), which is " \
           "wrong: Exercise 5.1, topological_order on the graph fan_out_graph(0.7, -1.2): the root L is last" in message
    assert "Fix Exercise 5.1 first" in message
