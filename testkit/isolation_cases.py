"""The submissions of the isolation test: one realistic mistake in one answer cell each (issue 12).

For every graded notebook and every answer cell: the hand-written mistakes the issue reports (and a few
more of the same kinds), and one mutant from :mod:`autograder.authoring.mutants` (the mutation benchmark's).
Shared by ``tests/test_planned_mistakes.py`` (graded for real) and ``tests/test_isolation_messages.py``
(run in-process).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autograder.authoring.mutants import mutants_of_cell
from testkit.notebook_helpers import exercises, is_answer, nbgrader_meta, notebook_paths, read

GRADED = ("01-chain-rule", "02-sigmoid-chain", "03-many-paths", "04-all-parameters", "05-write-the-engine")

# A 1.5 answer that passes the three visible chains but indexes the last step: it fails on the empty chain.
_CHAIN_INDEXES_LAST_STEP = '''
from collections.abc import Callable

Step = tuple[Callable[[float], float], Callable[[float], float]]


def chain_backward(x: float, steps: list[Step]) -> tuple[float, float]:
    """Run the chain forward from x, then backward."""
    inputs = []
    value = x
    for f, _df in steps:
        inputs.append(value)
        value = f(value)
    grad = steps[-1][1](inputs[-1])
    for (_f, df), u in zip(reversed(steps[:-1]), reversed(inputs[:-1]), strict=True):
        grad = grad * df(u)
    return value, grad
'''

#: notebook folder -> answer grade_id -> [(name, text in the solution, its replacement)]; a replacement that
#: starts with a newline replaces the whole answer.
HAND_MISTAKES: dict[str, dict[str, list[tuple[str, str, str]]]] = {
    "01-chain-rule": {
        "forward-answer": [("forward: h2 = e^x", "h2 = math.exp(h1)", "h2 = math.exp(x)")],
        "local-answer": [("d_square misses the factor 2", "return 2 * u", "return u")],
        "backward-exp-exp-answer": [("dy/dh2 at the step's output", 'd_exp(cache["h2"])', 'd_exp(cache["y"])')],
        "backward-inv-exp-answer": [("dh1/dx dropped", "return dy_dh2 * dh2_dh1 * dh1_dx", "return dy_dh2 * dh2_dh1")],
        "chain-answer": [("fails on the empty chain", "", _CHAIN_INDEXES_LAST_STEP)],
    },
    "02-sigmoid-chain": {
        "forward-answer": [("forward cache: a2 = w2·x", 'a2 = w["w2"] * h1', 'a2 = w["w2"] * x')],
        "dsigmoid-answer": [("σ'(a) written as σ(a)", "return s * (1 - s)", "return s")],
        "local-answer": [("σ for σ' in h1", "dh1_da1 = h1 * (1 - h1)", "dh1_da1 = h1")],
        "grad-w1-answer": [("grad_w1 misses dh2/dh1", ' * d["dh2_dh1"]', "")],
        "grad-w2-answer": [("grad_w2 sign flipped", 'return d["dL_dy"]', 'return -d["dL_dy"]')],
        "grad-w3-answer": [("grad_w3 uses dy/dh2", 'd["dy_dw3"]', 'd["dy_dh2"]')],
        "gd-answer": [("the update adds the gradient", "w[name] - lr * grads[name]", "w[name] + lr * grads[name]")],
    },
    "03-many-paths": {
        "paths-answer": [("first layer: the paths summed into one", "return [float(dL_dyhat[k]",
                          "return [sum(float(dL_dyhat[k]"),
                         ("", "for k in range(len(yhat))]", "for k in range(len(yhat)))]")],
        "notes-terms-answer": [("terms 1 and 2 taken for the same path", "return (1, 3)", "return (1, 2)")],
        "notes-answer": [("the notes' formula itself, not its excess", "return notes_formula - true_gradient",
                          "return notes_formula")],
        "delta-answer": [("the sign flipped: y − ŷ", "return yhat - y", "return y - yhat")],
        "deltas-answer": [("σ for σ' in the hidden layer", "* (h1 * (1 - h1))", "* h1")],
    },
    "04-all-parameters": {
        "backward-answer": [("the 1/m of the mean left out", "dA2 = (Yhat - Y) / m", "dA2 = Yhat - Y")],
        "flatten-answer": [("to_vector in the wrong order", "for key in KEYS])", "for key in sorted(KEYS)])")],
        "step-answer": [("the step adds the gradient", "theta - lr * gradient", "theta + lr * gradient")],
    },
    "05-write-the-engine": {
        "order-answer": [("the forward order, root last", "return order[::-1]", "return order")],
        "backward-answer": [("assigns instead of accumulating", "parent.grad += node.grad * local",
                             "parent.grad = node.grad * local")],
        "network-answer": [("the sum over examples, not the mean", "return sum(terms) / len(X)", "return sum(terms)")],
    },
}

#: Preferred mutant kinds, most backprop-specific first: each answer cell gets the first mutant of the first
#: kind it has.
MUTANT_ORDER = ("sigma", "matmul", "sign", "drop", "negate", "const")


@dataclass(frozen=True)
class Mistake:
    """One wrong submission: ``rewrite`` turns the answer cell's solution code into the wrong code."""

    notebook: str  # folder, e.g. "02-sigmoid-chain"
    answer: str  # answer cell grade_id
    name: str
    rewrite: Callable[[str], str]

    @property
    def student(self) -> str:
        kind = "mutant" if self.name.startswith("mutant") else "broken" if self.name.startswith("broken") else "hand"
        return f"{self.notebook[:2]}-{self.answer}-{kind}"


def _replacer(edits: list[tuple[str, str, str]]) -> Callable[[str], str]:
    def rewrite(code: str) -> str:
        for _, old, new in edits:
            if new.startswith("\n"):
                return new.strip("\n") + "\n"
            assert old in code, f"the mistake's text {old!r} is not in the solution any more"
            code = code.replace(old, new, 1)
        return code

    return rewrite


def source_path(notebook: str) -> Path:
    return next(p for p in notebook_paths() if p.parent.name == notebook)


def exercise_tests(notebook: str) -> dict[str, set[str]]:
    """answer grade_id -> the grade_ids of its exercise's test cells."""
    return {a: set(ex.tests) for ex in exercises(read(source_path(notebook))) for a in ex.answer_ids}


def mistakes() -> list[Mistake]:
    """Every planned wrong submission: a hand-written mistake and a mutant per answer cell."""
    return list(_mistakes())


@functools.cache
def _mistakes() -> tuple[Mistake, ...]:
    """Built once per process: three test modules parametrize on it at collection, in every pytest worker."""
    out = []
    for notebook in GRADED:
        nb = read(source_path(notebook))
        for cell in nb.cells:
            if not is_answer(cell):
                continue
            gid = nbgrader_meta(cell)["grade_id"]
            edits = HAND_MISTAKES[notebook][gid]
            out.append(Mistake(notebook, gid, edits[0][0], _replacer(edits)))
            mutants = mutants_of_cell(notebook, gid, cell.source)
            mutant = next(m for kind in MUTANT_ORDER for m in mutants if m.kind == kind)
            out.append(Mistake(notebook, gid, f"mutant {mutant.kind}: {mutant.description}",
                               lambda _code, source=mutant.source: source))
    return tuple(out)


def broken_cells() -> list[Mistake]:
    """Answer cells that do not run at all (a syntax error): the functions they define are missing, and the
    exercises that call them must still be judged on their own."""
    def broken(code: str) -> str:
        return code + "\nreturn = 1 +\n"

    return [Mistake("02-sigmoid-chain", "forward-answer", "broken: the cell has a syntax error", broken),
            Mistake("04-all-parameters", "backward-answer", "broken: the cell has a syntax error", broken)]
