"""The course notebooks: they run, they score full marks, their metadata is right, and the student release
built by nbgrader contains no solutions or hidden tests and scores 0.

Executing a notebook needs a Jupyter kernel named ``python3``; the notebooks are executed once per
session (fixtures below) and the tests read the executed copies.
"""

from __future__ import annotations

import ast
import copy
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.notebook.worked import is_worked
from testkit.notebook_helpers import (
    ASSIGNMENTS,
    EXERCISE_RE,
    execute,
    exercises,
    is_answer,
    is_test,
    kernel_env,
    nbgrader_meta,
    notebook_paths,
    outputs_of,
    python_source,
    read,
    run_in_process,
)

PATHS = notebook_paths()
IDS = [p.parent.name for p in PATHS]
GRADE_ID = re.compile(r"^[A-Za-z0-9_-]+$")
HIDDEN_TESTS = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.S)
MAX_SECONDS = 30.0  # "well under a minute" per notebook, kernel start included

#: Snippets that appear only inside solution regions: none of them may reach the students.
SOLUTION_SNIPPETS = {
    "01-chain-rule": ["h2 = math.exp(h1)", "y = 1 / h2", "return -1 / u**2", "grad = grad * df(u)",
                      "inputs.append(value)", "return dy_dh2 * dh2_dh1 * dh1_dx"],
    "02-sigmoid-chain": ["L = -math.log(y)", "dy_da3 = y * (1 - y)", '"dL_dy": -1 / y',
                         'return d["dL_dy"] * d["dy_dh2"] * d["dh2_dh1"] * d["dh1_dw1"]',
                         "w[name] - lr * grads[name]", "return s * (1 - s)"],
    "03-many-paths": ["dL_dyhat = -y / yhat + (1 - y) / (1 - yhat)",
                      "notes_formula = via_yhat2 + via_yhat1 + via_yhat2", "return (1, 3)", "return yhat - y",
                      "delta2 = output_delta(yhat, y)", 'params["W2"].T @ delta2', "np.outer(delta1, x)"],
    "04-all-parameters": ["dA2 = (Yhat - Y) / m", 'dA2 @ params["W2"]', "dA1.T @ X", "start += size",
                          "theta - lr * gradient"],
    "05-write-the-engine": ["visited.add(id(node))", "return order[::-1]", "parent.grad += node.grad * local",
                            "(1 - float(yk)) * (1 - out).log()", "return sum(terms) / len(X)"],
}


def test_every_assignment_has_one_source_notebook():
    assert list(ASSIGNMENTS) == IDS, f"expected notebooks/<assignment>/<notebook>.ipynb for {ASSIGNMENTS}, got {IDS}"
    for path in PATHS:
        assert len(list(path.parent.glob("*.ipynb"))) == 1, f"{path.parent} should hold exactly one notebook"


# ================================================================================================ metadata
@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_stored_without_outputs_and_valid(path):
    nb = read(path)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"stored with outputs: {cell.source[:60]!r}"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_nbgrader_metadata(path):
    nb = read(path)
    seen = set()
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if not meta:
            continue
        assert meta["schema_version"] == 3
        assert "checksum" not in meta and "cell_type" not in meta, "never write checksum or cell_type"
        gid = meta["grade_id"]
        assert GRADE_ID.match(gid), gid
        assert gid not in seen, f"grade_id {gid!r} is used twice"
        seen.add(gid)
        assert set(meta) >= {"grade", "solution", "locked"}
        if meta["grade"]:
            assert cell.cell_type == "code" and not meta["solution"] and meta["locked"], gid
            assert isinstance(meta.get("points"), int | float) and meta["points"] > 0, f"{gid}: points missing"
        elif meta["solution"]:
            assert cell.cell_type == "code" and not meta["locked"], gid
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source, gid
        else:
            assert meta["locked"], f"{gid}: read-only cells are locked"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_first_cell_has_the_only_h1_objectives_time_and_points(path):
    nb = read(path)
    h1 = [
        line
        for cell in nb.cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if re.match(r"^# \S", line)
    ]
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "the first cell starts with the H1"
    assert len(h1) == 1, f"exactly one H1 per notebook, found {h1}"
    assert "**Learning objectives.**" in first.source
    assert re.search(r"\*\*Estimated time:\*\* \d+ minutes", first.source)
    points = re.search(r"\*\*Points:\*\* (?:(\d+) in total|this notebook is not graded \(0 points\))", first.source)
    assert points, "the first cell states the total points"
    total = sum(p for ex in exercises(nb) for p in ex.tests.values())
    assert float(points.group(1) or 0) == total, f"first cell says {points.group(1)} points, the tests give {total}"
    # the table of exercises in the first cell agrees with the headings
    table = dict(re.findall(r"^\| (\d+\.\d+) \|.*\| (\d+) \|$", first.source, flags=re.M))
    assert table == {ex.number: str(int(ex.points)) for ex in exercises(nb)}


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_notebook_opens_with_prose_and_a_short_setup_cell(path):
    """The reader meets the course, not plumbing: a setup cell of a few lines, long helpers folded."""
    nb = read(path)
    assert nb.cells[0].cell_type == "markdown"
    setup = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "setup"]
    assert len(setup) == 1, "one setup cell"
    lines = [line for line in setup[0].source.splitlines() if line.strip()]
    assert len(lines) <= 8, f"the setup cell has {len(lines)} lines: move helpers into course_lib"
    assert "course_lib.lesson" in setup[0].source and "sys.path" not in setup[0].source
    first_exercise = next((i for i, c in enumerate(nb.cells)
                           if c.cell_type == "markdown" and c.source.startswith("## Exercise")), len(nb.cells))
    for index, cell in enumerate(nb.cells):
        if nbgrader_meta(cell).get("grade_id") == "check-helpers":
            assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, "check-helpers is folded"
            assert index > first_exercise - 3, "check-helpers sits just before the first exercise"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_exercise_headings_show_the_points_of_their_tests(path):
    nb = read(path)
    found = exercises(nb)
    if path.parent.name == "00-start-here":
        assert found == [] and not any(is_test(c) for c in nb.cells), "the start-here notebook is not graded"
        return
    assert found, "a graded notebook has exercises"
    prefix = path.parent.name[1]  # "01-chain-rule" -> "1"
    for ex in found:
        assert ex.number.startswith(prefix + "."), f"Exercise {ex.number} in notebook {path.parent.name}"
        assert ex.answer_ids, f"Exercise {ex.number} has no answer cell"
        assert ex.tests, f"Exercise {ex.number} has no test cell"
        assert ex.points == sum(ex.tests.values()), (
            f"Exercise {ex.number} says {ex.points} points, its tests give {sum(ex.tests.values())}"
        )
    in_exercises = {g for ex in found for g in ex.tests}
    all_tests = {nbgrader_meta(c)["grade_id"] for c in nb.cells if is_test(c)}
    assert all_tests == in_exercises, f"test cells outside an exercise: {all_tests - in_exercises}"
    headings = [line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines()
                if line.startswith("## Exercise")]
    assert all(EXERCISE_RE.match(h) for h in headings), headings


def _asserts(tree: ast.AST, asserting: set[str]) -> bool:
    """Does the code assert: an assert statement, report.assert_ok(), or a call of an asserting helper?"""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call) and (
            getattr(node.func, "attr", "") == "assert_ok" or getattr(node.func, "id", "") in asserting
        ):
            return True
    return False


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_test_cells_assert_and_do_not_end_on_a_bare_expression(path):
    # helpers that assert: course_lib's (imported by the notebooks), then those defined in earlier cells
    asserting: set[str] = {"expect_close", "check_entries", "check_weight", "check_update"}
    for cell in read(path).cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(python_source(cell.source))
        for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            if _asserts(fn, asserting):
                asserting.add(fn.name)
        if not is_test(cell):
            continue
        gid = nbgrader_meta(cell)["grade_id"]
        visible = HIDDEN_TESTS.sub("", cell.source)  # hidden parts may come first (the references)
        body = [stmt for stmt in ast.parse(visible).body if not isinstance(stmt, ast.FunctionDef)]
        assert _asserts(ast.Module(body=body, type_ignores=[]), asserting), f"{gid}: the self-check must assert"
        assert "### BEGIN HIDDEN TESTS" in cell.source and "### END HIDDEN TESTS" in cell.source, (
            f"{gid}: every graded test has hidden tests at held-out points"
        )
        for part in (cell.source, visible):  # as graded (with hidden tests) and as released (without)
            last = ast.parse(part).body[-1]
            assert not isinstance(last, ast.Expr) or _returns_none(last.value), (
                f"{gid}: ends on a bare expression, whose value nbgrader would read as partial credit"
            )


def _returns_none(expr: ast.expr) -> bool:
    """A call known to return None: print(...), expect_close(...) or report.assert_ok()."""
    if not isinstance(expr, ast.Call):
        return False
    return getattr(expr.func, "id", "") in ("print", "expect_close") or getattr(expr.func, "attr", "") == "assert_ok"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_student_functions_have_type_hints_and_docstrings(path):
    for cell in read(path).cells:
        if not is_answer(cell):
            continue
        functions = [n for n in ast.walk(ast.parse(cell.source)) if isinstance(n, ast.FunctionDef)]
        assert functions, f"{nbgrader_meta(cell)['grade_id']}: an answer cell defines a function"
        for fn in functions:
            args = fn.args.args + fn.args.kwonlyargs
            assert fn.returns is not None and all(a.annotation is not None for a in args), f"{fn.name}: type hints"
            assert ast.get_docstring(fn), f"{fn.name}: a docstring saying what to return"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_figures_and_widgets_come_with_text(path):
    nb = read(path)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if re.search(r"\bdraw_\w+\(", cell.source):
            assert "alt_text" in cell.source, f"a figure without its alt text: {cell.source[:80]!r}"
        if re.search(r"\b(slider_explorer|backward_stepper|path_chooser)\(", cell.source):
            assert "state_text" in cell.source, f"a widget without its text: {cell.source[:80]!r}"
    if path.parent.name != "00-start-here":
        assert any("$$" in c.source for c in nb.cells if c.cell_type == "markdown"), "the notes' math, rendered"


def test_the_widgets_and_pictures_the_issue_asks_for_are_used():
    sources = {p.parent.name: "\n".join(c.source for c in read(p).cells) for p in PATHS}
    everything = "\n".join(sources.values())
    for name in ("slider_explorer(", "backward_stepper(", "path_chooser(", "draw_graph(", "draw_path_cost(",
                 "draw_function_and_derivative(", "draw_loss_curve(", "draw_decision_regions("):
        assert name in everything, f"{name} is not used in any notebook"
    assert 'highlight_paths=graph["w_131"]' in sources["03-many-paths"]


# ================================================================================================ execution
@pytest.fixture(scope="session")
def executed_sources():
    """Every source notebook executed once in a fresh kernel: {assignment: (notebook, seconds)}."""
    out = {}
    for path in PATHS:
        nb = read(path)
        seconds = execute(nb, path.parent)
        out[path.parent.name] = (nb, seconds)
    return out


@pytest.mark.kernel
@pytest.mark.parametrize("name", IDS)
def test_source_notebook_runs_without_errors_or_stderr(executed_sources, name):
    nb, _ = executed_sources[name]
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = outputs_of(cell, "error")
        assert not errors, f"{cell.source[:80]!r} raised {errors[0].ename}: {errors[0].evalue}"
        stderr = "".join(o.text for o in outputs_of(cell, "stderr"))
        assert not stderr, f"stderr in {cell.source[:80]!r}: {stderr[:500]}"
        if is_test(cell):
            assert not outputs_of(cell, "execute_result"), "a graded cell must not end on a value"


@pytest.mark.kernel
def test_each_notebook_runs_well_under_a_minute(executed_sources):
    times = {name: seconds for name, (_, seconds) in executed_sources.items()}
    print("\nexecution time per notebook (fresh kernel):")
    for name, seconds in times.items():
        print(f"  {name:<20} {seconds:5.1f} s")
    slow = {n: round(s, 1) for n, s in times.items() if s >= MAX_SECONDS}
    assert not slow, f"notebooks slower than {MAX_SECONDS} s: {slow}"


@pytest.mark.kernel
@pytest.mark.parametrize("name", IDS)
def test_validator_gives_full_marks(executed_sources, name, tmp_path):
    from nbgrader.preprocessors import CheckCellMetadata
    from nbgrader.utils import determine_grade
    from nbgrader.validator import Validator

    nb, _ = executed_sources[name]
    for cell in nb.cells:
        if is_test(cell):
            score, max_score = determine_grade(cell)
            assert score == max_score, f"{nbgrader_meta(cell)['grade_id']}: {score} of {max_score}"
    target = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, str(target))
    # already executed: validate the outputs without running them again
    results = Validator(preprocessors=[CheckCellMetadata]).validate(str(target))
    assert results == {}, results


# ================================================================================================ cheating
CHEATS = [
    ("01-chain-rule", "backward-exp-exp-answer", '''
def backward_exp_exp(x: float) -> float:
    """Cheat: course_lib's automatic backward pass."""
    graph = exp_exp_chain(x)
    graph["y"].backward()
    return graph["x"].grad
'''),
    ("02-sigmoid-chain", "grad-w1-answer", '''
def grad_w1(x: float, w: dict[str, float]) -> float:
    """Cheat: the numerical gradient."""
    return numerical_gradient(lambda v: sigmoid_chain_loss({**w, "w1": v}, x), w["w1"])
'''),
    ("03-many-paths", "paths-answer", '''
def path_products(params: dict, x: np.ndarray, y: np.ndarray, name: str) -> list[float]:
    """Cheat: course_lib's list of paths, each with its product of local derivatives."""
    graph = network_graph(params, x, y)
    return [path.product for path in enumerate_paths(graph[name], graph["L"])]
'''),
    ("03-many-paths", "deltas-answer", '''
from course_lib.training import graph_gradients


def backward_deltas(params: dict, x: np.ndarray, y: np.ndarray) -> dict:
    """Cheat: gradients from course_lib's computation graph."""
    return graph_gradients(params, np.atleast_2d(x), np.atleast_2d(y))
'''),
    ("04-all-parameters", "backward-answer", '''
from course_lib.training import graph_gradients


def backward(params: dict, X: np.ndarray, Y: np.ndarray) -> dict:
    """Cheat: gradients from course_lib's computation graph."""
    return graph_gradients(params, X, Y)
'''),
    ("05-write-the-engine", "order-answer", '''
from course_lib.graph import topological_order as _course_order


def topological_order(root: Value) -> list[Value]:
    """Cheat: course_lib's topological order."""
    return _course_order(root)[::-1]
'''),
    ("05-write-the-engine", "network-answer", '''
from course_lib.models import network_graph


def network_loss(leaves: dict, X: np.ndarray, Y: np.ndarray) -> Value:
    """Cheat: course_lib's graph of the network, whose Node.backward would do the work."""
    params = {k: np.array([[w.data for w in row] for row in v] if isinstance(v[0], list) else [w.data for w in v])
              for k, v in leaves.items()}
    graph = network_graph(params, X[0], Y[0])
    graph["L"].backward()
    return Value(graph["L"].value)
'''),
]


@pytest.mark.kernel
@pytest.mark.parametrize(("name", "grade_id", "cheat"), CHEATS, ids=[f"{n}:{g}" for n, g, _ in CHEATS])
def test_handing_in_course_libs_gradients_scores_zero(name, grade_id, cheat):
    path = next(p for p in PATHS if p.parent.name == name)
    nb = read(path)
    cells = []
    for cell in nb.cells:
        if is_answer(cell) and nbgrader_meta(cell)["grade_id"] == grade_id:
            cell = copy.copy(cell)
            cell.source = cheat
        cells.append(cell)
    tests = next(ex.tests for ex in exercises(nb) if grade_id in ex.answer_ids)
    results = run_in_process(cells, cwd=path.parent)
    for gid in tests:
        assert not results[gid].passed, f"{gid} passed a function that hands in course_lib's gradients"
        assert "AutodiffDisabledError" in results[gid].error, results[gid].error


LOCAL_DERIVATIVE_CHEATS = [
    ("01-chain-rule", "local-answer", ("d-exp-test", "d-reciprocal-test"), '''
from course_lib.ops import exp_back, reciprocal_back


def d_square(u: float) -> float:
    """Honest."""
    return 2 * u


def d_exp(u: float) -> float:
    """Cheat: course_lib's local derivative of exp."""
    return exp_back(u)


def d_reciprocal(u: float) -> float:
    """Cheat: course_lib's local derivative of 1/u."""
    return reciprocal_back(u)
'''),
    ("02-sigmoid-chain", "dsigmoid-answer", ("dsigmoid-test",), '''
from course_lib import ops


def d_sigmoid(a: float) -> float:
    """Cheat: course_lib's local derivative of σ."""
    return ops.sigmoid_back(a)
'''),
]


@pytest.mark.kernel
@pytest.mark.parametrize(("name", "grade_id", "tests", "cheat"), LOCAL_DERIVATIVE_CHEATS,
                         ids=[f"{n}:{g}" for n, g, _, _ in LOCAL_DERIVATIVE_CHEATS])
def test_handing_in_course_libs_local_derivatives_scores_zero(name, grade_id, tests, cheat):
    """course_lib.ops' *_back functions are graded answers too: switched off while graded code runs."""
    path = next(p for p in PATHS if p.parent.name == name)
    cells = []
    for cell in read(path).cells:
        if is_answer(cell) and nbgrader_meta(cell)["grade_id"] == grade_id:
            cell = copy.copy(cell)
            cell.source = cheat
        cells.append(cell)
    results = run_in_process(cells, cwd=path.parent)
    for gid in tests:
        assert not results[gid].passed, f"{gid} passed a function that hands in course_lib's local derivative"
        assert "AutodiffDisabledError" in results[gid].error, results[gid].error


# ================================================================================================ release
@pytest.fixture(scope="session")
def release(tmp_path_factory):
    """``nbgrader generate_assignment`` for every assignment into a fresh course folder."""
    import os

    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from autograder.coursedir.database import use_in_process_schema_head
    from autograder.notebook.worked import release_preprocessors

    root = tmp_path_factory.mktemp("course")
    shutil.copytree(Path(PATHS[0]).parents[1], root / "source",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    saved = dict(os.environ)
    os.environ.update(kernel_env())
    use_in_process_schema_head()  # the new gradebook without nbgrader's `alembic heads` subprocess (3.4 s)
    try:
        config = Config()
        config.GenerateAssignment.preprocessors = release_preprocessors()  # as a release: worked cells dropped
        api = NbGraderAPI(coursedir=CourseDirectory(root=str(root)), config=config)
        for assignment in ASSIGNMENTS:
            result = api.generate_assignment(assignment)
            assert result["success"], result.get("log", "")[-3000:]
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return root / "release"


def _solution_lines(source: str, begin: str, end: str) -> list[str]:
    lines, inside = [], False
    for line in source.splitlines():
        if line.strip().startswith(begin):
            inside = True
        elif line.strip().startswith(end):
            inside = False
        elif inside and len(line.strip()) > 12 and not line.strip().startswith("#"):
            lines.append(line.strip())
    return lines


@pytest.mark.kernel
@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_release_contains_no_solutions_or_hidden_tests(release, path):
    released = read(release / path.parent.name / path.name)
    text = "\n".join(c.source for c in released.cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                   "<summary>Worked derivation"):
        assert marker not in text, marker
    source = read(path)
    solutions = "\n".join(c.source for c in source.cells if is_answer(c))
    for snippet in SOLUTION_SNIPPETS.get(path.parent.name, []):
        assert snippet in solutions, f"stale snippet (not in any solution): {snippet!r}"
        assert snippet not in text, f"solution code reached the release: {snippet!r}"
    outside = "\n".join(
        c.source.split("### BEGIN SOLUTION")[0] + c.source.split("### END SOLUTION")[-1]
        if is_answer(c) else HIDDEN_TESTS.sub("", c.source)
        for c in source.cells
    )
    for cell in source.cells:
        hidden = []
        if is_answer(cell):
            hidden = _solution_lines(cell.source, "### BEGIN SOLUTION", "### END SOLUTION")
        elif is_test(cell):
            hidden = _solution_lines(cell.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
        for line in hidden:
            if line not in outside:
                assert line not in text, f"a hidden line reached the release: {line!r}"
    worked = [c.source for c in source.cells if is_worked(c)]
    assert not any(is_worked(c) for c in released.cells), "a worked derivation reached the release"
    assert len(released.cells) == len(source.cells) - len(worked)
    released_sources = {c.source for c in released.cells}
    assert not [w for w in worked if w in released_sources], "a worked derivation's text reached the release"
    stubs = [c for c in released.cells if is_answer(c)]
    assert all("raise NotImplementedError()" in c.source for c in stubs), "every answer cell is a stub"
    assert len(stubs) == sum(is_answer(c) for c in source.cells)


@pytest.fixture(scope="session")
def executed_release(release):
    out = {}
    for path in PATHS:
        folder = release / path.parent.name
        nb = read(folder / path.name)
        execute(nb, folder, allow_errors=True)
        target = folder / f"executed-{path.name}"
        nbformat.write(nb, str(target))
        out[path.parent.name] = (nb, target)
    return out


@pytest.mark.kernel
@pytest.mark.parametrize("name", IDS)
def test_release_scores_zero_on_every_graded_test(executed_release, name):
    from nbgrader.preprocessors import CheckCellMetadata
    from nbgrader.utils import determine_grade
    from nbgrader.validator import Validator

    nb, target = executed_release[name]
    graded = [c for c in nb.cells if is_test(c)]
    for cell in graded:
        score, max_score = determine_grade(cell)
        assert score == 0, f"{nbgrader_meta(cell)['grade_id']} gives {score} of {max_score} points to an empty stub"
        assert outputs_of(cell, "error"), nbgrader_meta(cell)["grade_id"]
    results = Validator(invert=True, preprocessors=[CheckCellMetadata]).validate(str(target))
    assert not results.get("passed"), results
    assert not results.get("changed"), results
    # the setup cells run cleanly for a student too
    for cell in nb.cells:
        if cell.cell_type == "code" and nbgrader_meta(cell).get("grade_id") in ("setup", "imports"):
            assert not outputs_of(cell, "error") and not outputs_of(cell, "stderr")
