"""No graded answer is reachable from the student's process while it is graded (issue 21, item 2).

Every graded function of notebooks 01-05 whose working code course_lib holds, and how each one is kept out
of the grading sandbox (course_lib's ``answers`` folder is an empty read-only folder there):

=====================================  =====================================================================
graded function (exercise)             course_lib's equivalent (the code is in ``course_lib/answers``)
=====================================  =====================================================================
d_square, d_exp, d_reciprocal (1.2)    ``ops.exp_back``/``reciprocal_back`` (``__wrapped__`` once),
                                       ``Node.local_grads`` of ``**``, ``exp``, ``1/x`` (``answers.local``)
backward_exp_exp/_inv_exp (1.3, 1.4)   ``Node.backward`` on ``models.exp_exp_chain`` (``answers.engine``),
chain_backward (1.5)                   the checker's mutant catalogue at no mutation (``chain_mistakes``)
d_sigmoid, local_derivatives (2.2)     ``ops.sigmoid_back``, ``Node.local_grads`` of ``sigmoid``, ``*``, ``-log``
grad_w1..3, gradient_descent (2.3-5)   ``Node.backward`` on ``models.sigmoid_chain``
path_products (3.1), deltas (3.4-5)    ``paths.enumerate_paths`` products, ``training.graph_gradients``
backward (4.1)                         ``training.graph_gradients`` (``answers.network``)
to_vector/from_vector (4.2)            ``models.flatten``/``unflatten``
training_step (4.3)                    ``models.sgd_step`` with ``graph_gradients``
topological_order, backward (5.1-2)    ``graph.topological_order``, ``Node.backward`` (``answers.engine``)
=====================================  =====================================================================

Not protected, because they are not a graded backward pass: the forward values of course_lib's graphs and
models (the notes state every forward step; ``models.loss`` is 05's ``network_loss`` value, used by the
tests themselves) and ``gradcheck.numerical_gradient`` (an approximation a student could write; the scan
flags finite-difference steps). Each route below is tried in a real sandboxed kernel, with the teaching
guard cleared first.
"""

from __future__ import annotations

import json

import pytest
from test_sandbox import needs_sandbox, run_sandboxed

from autograder.isolation.sandbox import graded_answer_folders
from course_lib import guard, models, ops
from course_lib.graph import Node, topological_order
from course_lib.training import graph_gradients

MARK = "PROBE "

# What a cheating cell calls, by route; each must raise inside the sandbox (after clearing the guard).
CALLS = {
    "d_exp: ops.exp_back": "ops.exp_back(0.3)",
    "d_reciprocal: ops.reciprocal_back": "ops.reciprocal_back(0.3)",
    "d_sigmoid: ops.sigmoid_back": "ops.sigmoid_back(0.3)",
    "d_square: (Node ** 2).local_grads": "(Node(0.3) ** 2).local_grads",
    "d_exp: Node.exp().local_grads": "Node(0.3).exp().local_grads",
    "d_reciprocal: Node.reciprocal().local_grads": "Node(0.3).reciprocal().local_grads",
    "d_sigmoid: Node.sigmoid().local_grads": "Node(0.3).sigmoid().local_grads",
    "local_derivatives: sigmoid_chain local_grads": "[n.local_grads for n in models.sigmoid_chain(1., .5, -.8, 1.5)"
                                                    ".values()]",
    "backward_exp_exp: Node.backward": "(lambda g: (g['y'].backward(), g['x'].grad))(models.exp_exp_chain(0.5))",
    "grad_w1: Node.backward on sigmoid_chain": "models.sigmoid_chain(1., .5, -.8, 1.5)['L'].backward()",
    "chain_backward: the mutant catalogue": "mutants._derivative(models.exp_exp_chain, None, "
                                            "lambda n, i, local: local)(0.5)",
    "path_products: enumerate_paths": "[p.product for p in paths.enumerate_paths(*(lambda g: (g['w_111'], g['L']))"
                                      "(models.network_graph(models.init_params(0), [1., 2.], [1., 0.])))]",
    "backward (4.1): graph_gradients": "training.graph_gradients(models.init_params(0), *models.make_dataset(4))",
    "to_vector: models.flatten": "models.flatten(models.init_params(0))",
    "from_vector: models.unflatten": "models.unflatten([0.0] * 17)",
    "training_step: models.sgd_step": "models.sgd_step({'W1': 1.0}, {'W1': 1.0}, 0.5)",
    "training_step: training.train": "training.train(models.init_params(0), *models.make_dataset(4), steps=1)",
    "topological_order: graph.topological_order": "graph.topological_order(models.exp_exp_chain(0.5)['y'])",
    "topological_order: graph.forward_order": "graph.forward_order(models.exp_exp_chain(0.5)['y'])",
    "backward (5.2): Node.zero_grad's order": "models.exp_exp_chain(0.5)['y'].zero_grad()",
}

# Lines of the answers' code: no file the sandbox can read holds any of them.
ANSWER_LINES = ["return s * (1.0 - s)", "k * x ** (k - 1)", "-1.0 / (x * x)", "parent.grad += node.grad * local",
                "return 1.0 + math.exp(-z)", "np.concatenate([np.asarray(params[k]", "- lr * np.asarray(grads[k]",
                'nodes["L"].backward()', "return (b, a)", "-a / (b * b)", "-target * inv_y"]

PROBE = '''
import gc, importlib, json, os, sys
from course_lib import graph, guard, models, ops, paths, training
from course_lib.gradcheck import mutants
from course_lib.graph import Node
CALLS, LINES = json.loads(CALLS_JSON), json.loads(LINES_JSON)
guard._active.clear()  # undo the teaching guard, as the issue's attack did
out = {"calls": {}, "imports": {}, "files": [], "gc": [], "modules": [], "wrapped": {}}
for what, expr in CALLS.items():
    guard._active.clear()
    try:
        out["calls"][what] = "RETURNED " + repr(eval(expr))[:200]
    except BaseException as e:
        out["calls"][what] = type(e).__name__ + ": " + str(e)[:120]
for name in ("course_lib.answers", "course_lib.answers.local", "course_lib.answers.engine",
             "course_lib.answers.network"):
    try:
        m = importlib.import_module(name)
        out["imports"][name] = "IMPORTED " + str(getattr(m, "__file__", None)) + " " + repr(sorted(vars(m)))[:200]
    except BaseException as e:
        out["imports"][name] = type(e).__name__
for name in ("exp_back", "sigmoid_back", "reciprocal_back"):
    f = getattr(ops, name)
    inner = [c.cell_contents for c in (f.__closure__ or ()) if callable(c.cell_contents)]
    tried = []
    for g in [getattr(f, "__wrapped__", None), *inner]:
        if g is None:
            continue
        try:
            tried.append("RETURNED " + repr(g(0.3)))
        except BaseException as e:
            tried.append(type(e).__name__)
    out["wrapped"][name] = {"has __wrapped__": hasattr(f, "__wrapped__"), "inner calls": tried}
top = os.path.dirname(importlib.import_module("course_lib").__file__)
out["answers_folder"] = sorted(os.listdir(os.path.join(top, "answers")))
for root, dirs, files in os.walk(top):
    for f in files:
        try:
            text = open(os.path.join(root, f), "rb").read().decode("utf-8", "replace")
        except OSError:
            continue
        out["files"] += [f"{f}: {line}" for line in LINES if line in text]
for obj in gc.get_objects():
    mod = getattr(obj, "__module__", None) if callable(obj) else None
    if isinstance(mod, str) and mod.startswith("course_lib.answers"):
        out["gc"].append(repr(obj)[:100])
out["modules"] = sorted(m for m in sys.modules if m.startswith("course_lib.answers"))
print("PROBE " + json.dumps(out))
'''


def _probe_cell() -> str:
    return (f"CALLS_JSON = {json.dumps(json.dumps(CALLS))}\nLINES_JSON = {json.dumps(json.dumps(ANSWER_LINES))}\n"
            + PROBE)


@needs_sandbox
def test_no_graded_answer_is_reachable_in_the_sandbox(tmp_path):
    nb, error, _ = run_sandboxed(tmp_path, [_probe_cell()], timeout=120)
    assert error is None, error
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    line = next((ln for ln in text.splitlines() if ln.startswith(MARK)), None)
    assert line, nb.cells[0].outputs
    out = json.loads(line[len(MARK):])
    print(json.dumps(out, indent=1))
    returned = {k: v for k, v in out["calls"].items() if not v.startswith("AnswerUnavailable")}
    assert returned == {}, returned  # every route: "not available while your notebook is graded"
    # the empty folder imports as an empty namespace package (no file, no names): its modules do not
    package = out["imports"].pop("course_lib.answers")
    assert package.startswith("IMPORTED None") and "local" not in package, package
    assert set(out["imports"].values()) == {"ModuleNotFoundError"}, out["imports"]
    for name, seen in out["wrapped"].items():
        assert not seen["has __wrapped__"], name
        assert all(not t.startswith("RETURNED") for t in seen["inner calls"]), (name, seen)
    assert out["answers_folder"] == [] and out["files"] == [], (out["answers_folder"], out["files"])
    assert out["gc"] == [] and out["modules"] == ["course_lib.answers"], (out["gc"], out["modules"])


def test_the_answers_folder_is_what_the_sandbox_hides():
    folders = graded_answer_folders()
    assert folders and all((f / "local.py").is_file() and (f / "engine.py").is_file() for f in folders)
    for folder in folders:  # every answer line of the table above lives there, and only there
        text = "".join(p.read_text() for p in folder.glob("*.py"))
        assert all(line in text for line in ANSWER_LINES), [ln for ln in ANSWER_LINES if ln not in text]
        outside = [p.name for p in folder.parent.rglob("*.py") if folder not in p.parents
                   for line in ANSWER_LINES if line in p.read_text()]
        assert outside == [], outside


def test_a_students_own_copy_keeps_the_tools_and_the_teaching_guard():
    assert ops.sigmoid_back(0.0) == 0.25 and not hasattr(ops.sigmoid_back, "__wrapped__")
    x = Node(0.5, "x")
    y = (x**2).exp()
    y.backward()
    assert abs(x.grad - 2 * 0.5 * 2.718281828459045 ** 0.25) < 1e-12
    assert [n.label for n in topological_order(y)][0] == "x"
    params = models.init_params(0)
    assert models.unflatten(models.flatten(params))["W2"].tolist() == params["W2"].tolist()
    with guard.hand_written_only("backward"):
        for call in (lambda: ops.sigmoid_back(0.0), lambda: y.backward(), lambda: graph_gradients(params, [[1, 2]],
                                                                                                    [[1, 0]])):
            with pytest.raises(guard.AutodiffDisabledError):
                call()


# The attack (a 04 backward that clears the guard and calls graph_gradients scored 10/10) and variants
# by import and by reading the answer's file: graded for real, in the sandbox, each must score 0 on 4.1.
ATTACKS_04 = {
    "clears-the-guard": '''
from course_lib import guard as _guard
from course_lib.training import graph_gradients as _gg


def backward(params: dict, X: np.ndarray, Y: np.ndarray) -> dict:
    """Cheat: clear the guard for the length of the call and use course_lib's graph."""
    saved = list(_guard._active)
    _guard._active.clear()
    try:
        return _gg(params, np.atleast_2d(X), np.atleast_2d(Y))
    finally:
        _guard._active[:] = saved
''',
    "imports-the-answer": '''
def backward(params: dict, X: np.ndarray, Y: np.ndarray) -> dict:
    """Cheat: import the answer module itself."""
    from course_lib.answers.network import graph_gradients as _gg
    X = np.atleast_2d(X)
    return _gg(params, X, np.atleast_2d(Y), (X.shape[1], params["W1"].shape[0], params["W2"].shape[0]))
''',
    "reads-the-file": '''
import pathlib as _pl

import course_lib as _cl


def backward(params: dict, X: np.ndarray, Y: np.ndarray) -> dict:
    """Cheat: read the answer's source file and run it."""
    space = {}
    exec(_pl.Path(_cl.__file__).with_name("answers").joinpath("network.py").read_text(), space)
    X = np.atleast_2d(X)
    return space["graph_gradients"](params, X, np.atleast_2d(Y),
                                    (X.shape[1], params["W1"].shape[0], params["W2"].shape[0]))
''',
}


@pytest.mark.grading
@needs_sandbox
def test_a_04_backward_that_reaches_course_libs_answer_scores_0(tmp_path):
    import nbformat

    from autograder.commands.grade import grade, load_results
    from autograder.commands.release import release
    from autograder.commands.sample_class import solved
    from autograder.coursedir.course import NOTEBOOKS_DIR, CourseDir

    course = CourseDir.at(tmp_path / "course")
    release(course, NOTEBOOKS_DIR, progress=lambda m: None)
    name = "04-all-parameters"
    rel_path = next((course.release / name).glob("*.ipynb"))
    rel = nbformat.read(str(rel_path), as_version=4)
    src = nbformat.read(str(course.source / name / rel_path.name), as_version=4)
    plans = {"correct": {}, **{k: {"backward-answer": (lambda _old, code=code: code)}
                               for k, code in ATTACKS_04.items()}}
    for student, mutate in plans.items():
        folder = course.submitted / student / name
        folder.mkdir(parents=True)
        nbformat.write(solved(rel, src, mutate=mutate), str(folder / rel_path.name))
    grade(course, workers=2, assignments=[name], progress=print)
    results = {r.student: r for r in load_results(course)}
    # 4.1 (and 4.3) of a correct answer keep full marks with the answers withheld. (4.2's visible check compares
    # with course_lib's flatten inside the kernel, where it is withheld now: only the grader-side run, which has
    # it, can judge 4.2 -- issue 21's "every test cell scored outside the student's process".)
    correct = {c.cell: c for c in results["correct"].cells}
    kept = {gid: (c.score, c.max_score) for gid, c in correct.items() if not gid.startswith("flatten")}
    assert all(score == top for score, top in kept.values()), [(c.cell, c.message[:200]) for c in correct.values()]
    for student in ATTACKS_04:
        cells = {c.cell: c for c in results[student].cells}
        backward = [c for gid, c in cells.items() if gid.startswith("backward-")]
        assert backward and all(c.score == 0 for c in backward), (student, [(c.cell, c.score) for c in backward])
