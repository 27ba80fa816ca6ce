"""Gradient checkers side by side on the same functions, correct gradients and typical bugs.

Checkers:

* ``course_lib.gradcheck``: :func:`check_gradients` with its defaults (the student's backward as a function:
  checked at ``params`` and one perturbed point), and with ``n_points=1`` (one point, like the others);
* ``CS231n``: central differences with h = 1e-5 on every entry, pass when every
  ``|a - n| / max(1e-8, |a| + |n|) < 1e-7``;
* ``Coursera DLS``: central differences with eps = 1e-7 over the flat θ, pass unless
  ``‖a - n‖ / (‖a‖ + ‖n‖) > 2e-7`` (so a NaN passes, as in the course's code);
* ``torch gradcheck``: ``torch.autograd.gradcheck`` (eps 1e-6, atol 1e-5, rtol 1e-3) on a
  ``torch.autograd.Function`` whose forward is the numpy loss and whose backward is the student's gradient.
  Optional: needs ``pip install torch`` (the ``bench`` extra; a CPU wheel is enough); skipped without it.

Cases (testkit/gradcheck_cases.py): correct gradients of the network in four regimes (ordinary, saturated,
hidden units off, a square 3-3-3 net), of the sigmoid chain and of the notes' one-variable functions at
their syllabus points (including exp(exp(x²)) at x = 2.5); and the bug catalogue (15 network bugs at the
default test points, 3 sigmoid-chain bugs, 4 one-variable bugs).

Run ``python -m benchmarks.gradcheck`` (``--draws 1000 --bug-draws 50`` by default; ``--quick`` for a
smoke run).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

import testkit.gradcheck_cases as cases  # noqa: E402
from course_lib import models  # noqa: E402
from course_lib.gradcheck import check_gradients, numerical_gradient  # noqa: E402
from course_lib.gradcheck.inputs import GradientInputError  # noqa: E402

try:
    import torch
except ImportError:  # the optional benchmark extra
    torch = None


@dataclass
class Case:
    """One function to check: loss, point, the gradient function under test, and whether it is right."""

    kind: str  # a regime of correct draws, or a bug's name
    loss: Callable[[Any], float]
    params: Any
    grads: Callable[[Any], Any]
    correct: bool


class Counted:
    """A loss that counts its evaluations."""

    def __init__(self, f: Callable[[Any], float]) -> None:
        self.f, self.calls = f, 0

    def __call__(self, params: Any) -> float:
        self.calls += 1
        return self.f(params)


# ----------------------------------------------------------------------------- the other checkers
def _flat(params: Any) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """θ and a function mapping a vector back to the structure of params."""
    if isinstance(params, dict):
        keys = list(params)
        shapes = [np.shape(params[k]) for k in keys]
        scalar = [not isinstance(params[k], np.ndarray) for k in keys]
        theta = np.concatenate([np.asarray(params[k], dtype=float).ravel() for k in keys])

        def back(v: np.ndarray) -> Any:
            out, start = {}, 0
            for k, shape, s in zip(keys, shapes, scalar, strict=True):
                n = int(np.prod(shape))
                out[k] = float(v[start]) if s else v[start : start + n].reshape(shape).copy()
                start += n
            return out

        return theta, back
    if isinstance(params, np.ndarray):
        return params.astype(float).ravel(), lambda v: v.reshape(params.shape).copy()
    return np.array([float(params)]), lambda v: float(v[0])


def _flat_grads(grads: Any, params: Any) -> np.ndarray:
    if isinstance(params, dict):
        return np.concatenate([np.asarray(grads[k], dtype=float).ravel() for k in params])
    return np.asarray(grads, dtype=float).ravel()


def _central(f: Callable[[Any], float], params: Any, h: float) -> np.ndarray:
    theta, back = _flat(params)
    out = np.empty_like(theta)
    for i in range(theta.size):
        old = theta[i]
        theta[i] = old + h
        fp = f(back(theta))
        theta[i] = old - h
        fm = f(back(theta))
        theta[i] = old
        out[i] = (fp - fm) / (2 * h)
    return out


def cs231n(case: Case, loss: Counted) -> bool:
    a = _flat_grads(case.grads(case.params), case.params)
    loss(case.params)  # the forward pass a CS231n check starts with
    n = _central(loss, case.params, 1e-5)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.max(np.abs(a - n) / np.maximum(1e-8, np.abs(a) + np.abs(n)))
    return bool(rel < 1e-7)


def coursera(case: Case, loss: Counted) -> bool:
    a = _flat_grads(case.grads(case.params), case.params)
    loss(case.params)
    n = _central(loss, case.params, 1e-7)
    with np.errstate(invalid="ignore", divide="ignore"):
        difference = np.linalg.norm(a - n) / (np.linalg.norm(a) + np.linalg.norm(n))
    return not difference > 2e-7


def torch_gradcheck(case: Case, loss: Counted) -> bool:
    theta, back = _flat(case.params)

    class Student(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, t: Any) -> Any:
            ctx.save_for_backward(t)
            return torch.tensor(loss(back(t.detach().numpy().copy())), dtype=torch.float64)

        @staticmethod
        def backward(ctx: Any, grad_output: Any) -> Any:
            (t,) = ctx.saved_tensors
            g = _flat_grads(case.grads(back(t.detach().numpy().copy())), case.params)
            return grad_output * torch.from_numpy(g)

    t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    return bool(
        torch.autograd.gradcheck(Student.apply, (t,), eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=False)
    )


def ours(n_points: int) -> Callable[[Case, Counted], bool]:
    def run(case: Case, loss: Counted) -> bool:
        try:
            return check_gradients(loss, case.params, case.grads, n_points=n_points).passed
        except GradientInputError:
            return False

    return run


# ----------------------------------------------------------------------------- the cases
def correct_cases(draws: int) -> list[Case]:
    out = []
    for regime in cases.REGIMES:
        for seed in range(draws):
            d = cases.regime(regime, seed)
            out.append(Case(regime, d.loss, d.params, d.backward, True))
    rng = np.random.default_rng(0)
    for _ in range(draws):
        w = {k: float(v) for k, v in zip(("w1", "w2", "w3"), rng.normal(0, 2, size=3), strict=True)}
        x = float(rng.uniform(-3, 3))
        out.append(
            Case(
                "sigmoid chain",
                lambda p, x=x: models.sigmoid_chain_loss(p, x),
                w,
                lambda p, x=x: cases.chain_grads(p, x),
                True,
            )
        )
    for name, sc in cases.SCALAR_CASES.items():
        for x in sc.points:
            out.append(Case(f"{name} at x={x:g}", sc.f, x, sc.df, True))
    return out


def bug_cases(draws: int, regimes: tuple[str, ...] = ("ordinary", "square")) -> list[Case]:
    """The catalogue at the default test points (ordinary and square nets), chain and scalar bugs."""
    out = []
    for bug in cases.NET_BUGS:
        for seed in range(draws):
            for regime in regimes:
                d = cases.regime(regime, seed)
                if d.applies(bug):
                    out.append(Case(bug, d.loss, d.params, d.bug(bug), False))
    rng = np.random.default_rng(1)
    for bug in cases.CHAIN_BUGS:
        for _ in range(draws):
            w = {k: float(v) for k, v in zip(("w1", "w2", "w3"), rng.normal(0, 1.5, size=3), strict=True)}
            x = float(rng.uniform(0.5, 2.0))
            out.append(
                Case(
                    f"chain: {bug}",
                    lambda p, x=x: models.sigmoid_chain_loss(p, x),
                    w,
                    lambda p, x=x, bug=bug: cases.chain_bug(bug, p, x),
                    False,
                )
            )
    for name, sc in cases.SCALAR_CASES.items():
        for bug, df in sc.bugs.items():
            for x in sc.points:
                out.append(Case(f"{name}: {bug}", sc.f, x, df, False))
    return out


def hard_bug_cases(draws: int) -> list[Case]:
    """The network catalogue at bad test points, without the L2 term: saturated, hidden units almost off."""
    out = []
    for bug in cases.NET_BUGS:
        for seed in range(draws):
            for regime in ("saturated", "hidden_low"):
                d = cases.regime(regime, seed, lam=0.0)
                if d.applies(bug):
                    out.append(Case(f"{bug} ({regime})", d.loss, d.params, d.bug(bug), False))
    return out


@dataclass
class Tally:
    """What one checker did over all cases."""

    false_failures: dict[str, list[int]] = field(default_factory=dict)  # kind -> [failures, draws]
    caught: dict[str, list[int]] = field(default_factory=dict)  # bug -> [caught, total]
    evaluations: dict[bool, list[int]] = field(default_factory=lambda: {True: [0, 0], False: [0, 0]})
    seconds: float = 0.0
    runs: int = 0

    def per_check(self, correct: bool) -> float:
        """Mean evaluations of f per check on correct (True) or buggy (False) gradients."""
        total, runs = self.evaluations[correct]
        return total / runs if runs else float("nan")

    def caught_of(self, prefix_hard: bool) -> tuple[int, int]:
        """(caught, total) over the hard-point bugs or over the others."""
        rows = [v for k, v in self.caught.items() if k.endswith(")") == prefix_hard]
        return sum(v[0] for v in rows), sum(v[1] for v in rows)


def run(checker: Callable[[Case, Counted], bool], all_cases: list[Case]) -> Tally:
    tally = Tally()
    for case in all_cases:
        loss = Counted(case.loss)
        start = time.perf_counter()
        with np.errstate(all="ignore"):
            try:
                passed = checker(case, loss)
            except (FloatingPointError, ValueError, OverflowError, ZeroDivisionError, RuntimeError):
                passed = False
        tally.seconds += time.perf_counter() - start
        tally.evaluations[case.correct][0] += loss.calls
        tally.evaluations[case.correct][1] += 1
        tally.runs += 1
        if case.correct:
            entry = tally.false_failures.setdefault(case.kind, [0, 0])
            entry[0] += not passed
            entry[1] += 1
        else:
            entry = tally.caught.setdefault(case.kind, [0, 0])
            entry[0] += not passed
            entry[1] += 1
    return tally


def accuracy(draws: int) -> list[str]:
    """The reference's accuracy against the hand-written gradient at ordinary points."""
    worst_central = worst_complex = 0.0
    for seed in range(draws):
        d = cases.regime("ordinary", seed)
        a = models.flatten(d.backward(d.params))
        n = models.flatten(numerical_gradient(d.loss, d.params, method="central"))
        c = models.flatten(
            numerical_gradient(
                lambda p, d=d: cases.net_loss_complex(p, d.X, d.Y, d.lam), d.params, method="complex"
            )
        )
        big = np.abs(a) > 1e-3 * np.max(np.abs(a))
        worst_central = max(worst_central, float(np.max(np.abs(n - a)) / np.max(np.abs(a))))
        worst_complex = max(worst_complex, float(np.max(np.abs(c - a)[big] / np.abs(a[big]))))
    sc = cases.SCALAR_CASES["exp_exp"]
    exact = sc.df(2.5)
    cx = numerical_gradient(lambda x: np.exp(np.exp(x * x)), 2.5, method="complex")
    ce = numerical_gradient(sc.f, 2.5, method="central")
    ri = numerical_gradient(sc.f, 2.5, method="richardson")
    return [
        f"- central differences, max |n - a| / max |a| over {draws} ordinary draws: {worst_central:.1e}",
        f"- complex step, max entry-relative error (entries > 1e-3 max) over {draws} draws: "
        f"{worst_complex:.1e}",
        f"- exp(exp(x²)) at x = 2.5 (f'(x) = {exact:.4e}): complex step rel. error "
        f"{abs(cx - exact) / exact:.1e}, "
        f"central {abs(ce - exact) / exact:.1e}, Richardson {abs(ri - exact) / exact:.1e}",
    ]


def large_network_cost(full: bool) -> list[str]:
    """Evaluations and time of each mode on a 784-64-10 network (P = 50,890), batch of 8."""
    sizes = (784, 64, 10)
    rng = np.random.default_rng(0)
    d = cases.Draw(
        models.init_params(0, sizes=sizes, scale=0.1),
        rng.normal(size=(8, 784)),
        (rng.uniform(size=(8, 10)) < 0.5).astype(float),
        0.0,
        sizes,
    )
    lines = [
        "| mode | gradient | passed | f evaluations | seconds |",
        "|---|---|---|---|---|",
    ]
    runs = [
        ("sampled", "correct"),
        ("sampled", "sigma_for_dsigma"),
        ("directions", "correct"),
        ("directions", "sigma_for_dsigma"),
    ]
    if full:
        runs.insert(0, ("full", "correct"))
    for mode, which in runs:
        grads = d.backward if which == "correct" else d.bug(which)
        start = time.perf_counter()
        report = check_gradients(d.loss, d.params, grads, mode=mode, n_points=1)
        seconds = time.perf_counter() - start
        lines.append(f"| {mode} | {which} | {report.passed} | {report.evaluations} | {seconds:.2f} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000, help="correct draws per regime (default 1000)")
    parser.add_argument(
        "--bug-draws", type=int, default=50, help="draws per bug and test-point kind (default 50)"
    )
    parser.add_argument("--quick", action="store_true", help="20 correct draws, 5 per bug")
    args = parser.parse_args(argv)
    draws, bug_draws = (20, 5) if args.quick else (args.draws, args.bug_draws)

    checkers: dict[str, Callable[[Case, Counted], bool]] = {
        "course_lib.gradcheck (default, 2 points)": ours(2),
        "course_lib.gradcheck (n_points=1)": ours(1),
        "CS231n rel_error < 1e-7": cs231n,
        "Coursera norm < 2e-7": coursera,
    }
    if torch is not None:
        torch.set_num_threads(1)
        checkers[f"torch.autograd.gradcheck ({torch.__version__})"] = torch_gradcheck
    good, bad, hard = correct_cases(draws), bug_cases(bug_draws), hard_bug_cases(bug_draws)
    tallies = {name: run(checker, good + bad + hard) for name, checker in checkers.items()}

    print(
        f"Correct cases: {len(good)} ({draws} draws in each of 4 network regimes and of the sigmoid "
        "chain, plus "
        f"the syllabus points). Bug cases: {len(bad)} at the default test points, {len(hard)} at hard points "
        "(saturated; hidden units almost off, biases -10; both without the L2 term).\n"
    )
    print(
        "| checker | false failures | bugs caught (default points) | bugs caught (hard points) "
        "| f evals per check (correct / bug) | ms per check |"
    )
    print("|---|---|---|---|---|---|")
    for name, t in tallies.items():
        ff = sum(v[0] for v in t.false_failures.values())
        caught, total = t.caught_of(False)
        hard_caught, hard_total = t.caught_of(True)
        print(
            f"| {name} | {ff} / {len(good)} | {caught} / {total} ({100 * caught / total:.1f}%) | "
            f"{hard_caught} / {hard_total} ({100 * hard_caught / hard_total:.1f}%) | "
            f"{t.per_check(True):.1f} / {t.per_check(False):.1f} | {1000 * t.seconds / t.runs:.2f} |"
        )
    if torch is None:
        print("\n(torch is not installed: pip install torch for the torch.autograd.gradcheck row)")

    names = list(tallies)
    short = ["ours (2 pts)", "ours (1 pt)", "CS231n", "Coursera", "torch"][: len(names)]
    kinds = list(next(iter(tallies.values())).false_failures)
    print("\nFalse failures by case (failures / draws):\n")
    print("| case | " + " | ".join(short) + " |")
    print("|---|" + "---|" * len(short))
    for kind in kinds:
        cells = [
            f"{tallies[n].false_failures[kind][0]} / {tallies[n].false_failures[kind][1]}" for n in names
        ]
        print(f"| {kind} | " + " | ".join(cells) + " |")
    bugs = list(next(iter(tallies.values())).caught)
    print("\nBugs caught by bug (caught / cases; in parentheses: at hard test points):\n")
    print("| bug | " + " | ".join(short) + " |")
    print("|---|" + "---|" * len(short))
    for bug in bugs:
        cells = [f"{tallies[n].caught[bug][0]} / {tallies[n].caught[bug][1]}" for n in names]
        print(f"| {bug} | " + " | ".join(cells) + " |")
    print(
        f"\nCost on a 784-64-10 network (P = {784 * 64 + 64 + 64 * 10 + 10:,}, batch 8), "
        "course_lib.gradcheck:\n"
    )
    print("\n".join(large_network_cost(full=not args.quick)))
    print("\nAccuracy of the reference:\n")
    print("\n".join(accuracy(min(draws, 200))))


if __name__ == "__main__":
    main()
