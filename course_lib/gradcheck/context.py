"""What the notebook has taught so far, so that advice uses only words the student knows.

A notebook's setup cell may say where it is in the course, once::

    from course_lib import gradcheck
    gradcheck.set_context("chain-rule")

or a single check may say it: ``check_derivative(..., context="chain-rule")`` (the keyword wins). Without
either, the context is ``"general"``, whose advice assumes nothing beyond "a function and its derivative".

=================  =======================================================================================
context            what the advice may talk about
=================  =======================================================================================
``general``        f and its derivative; local derivatives and the point each is evaluated at (default)
``chain-rule``     01: scalar compositions y = f(g(x)), local derivatives and the point each is evaluated
                   at; never σ, a loss, paths to a loss or examples
``sigmoid-chain``  02: the chain of three sigmoid neurons, L = −log y, σ'(a) = σ(a)(1 − σ(a)), the inner
                   derivatives x, h1, h2 and the weights w2, w3 on the way
``many-paths``     03: a loss on several outputs, the sum over every path, σ' in each unit
``all-parameters`` 04: the whole backward pass in matrix form: 1/m of the mean, transposes, sums over
                   examples
=================  =======================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from course_lib.gradcheck.inputs import GradientInputError

__all__ = ["CONTEXTS", "Advice", "advice_for", "get_context", "resolve_context", "set_context"]


@dataclass(frozen=True)
class Advice:
    """The context-dependent words of the diagnoses."""

    output: str  # what the checked function is called: "f", "the function", "the loss L"
    sign: str  # after "the sign is flipped": where to look
    half: str  # a factor 2 missing
    smaller: str  # "... a missing factor {k}": what else could have been left out
    larger: str  # "... counted {k} times": what could have been counted twice
    examples: bool  # may talk about the m examples of a mean
    nonfinite: str  # where a NaN or inf comes from
    ratio: str  # a constant ratio that is no small rational
    fallback: str  # when nothing specific fits


_LOCAL = (
    "Check the local derivatives one at a time: is each the derivative of its own step, is each "
    "evaluated at its step's input (not at its output), and is every step's local derivative in the "
    "product, the inner ones too?"
)

CONTEXTS: dict[str, Advice] = {
    "general": Advice(
        output="f",
        sign="Look for a minus sign dropped or added in one factor.",
        half="A factor 2 is missing (for example d(u²)/du = 2u written as u), or something is divided by 2.",
        smaller="a missing factor {k} or a stray division by {k}",
        larger="a term counted {k} times or a stray factor {k}",
        examples=True,
        nonfinite="Look for log(0), 0/0, a division by zero or exp of a large number in your formula.",
        ratio="compare each constant factor in your formula with the notes.",
        fallback=_LOCAL,
    ),
    "chain-rule": Advice(
        output="the function",
        sign="Look for a minus sign dropped or added in one local derivative: is that step rising or falling "
        "at the point where it is evaluated?",
        half="A factor 2 is missing: expand (u + ε)² − u², divide by ε and see which term survives.",
        smaller="a local derivative that is missing a factor {k}",
        larger="a local derivative used {k} times, or a stray factor {k}",
        examples=False,
        nonfinite="Look for a division by zero or exp of a large number in a local derivative.",
        ratio="compare each constant factor of your local derivatives with the notes.",
        fallback=_LOCAL,
    ),
    "sigmoid-chain": Advice(
        output="the loss L",
        sign="Look for a minus sign dropped or added: L = −log y, so carry its minus sign into dL/dy; and "
        "σ' is positive everywhere (σ only rises).",
        half="A factor 2 is missing, or something is divided by 2.",
        smaller="a missing factor {k} or a stray division by {k}",
        larger="a factor counted {k} times or a stray factor {k}",
        examples=False,
        nonfinite="Look for log(0), 0/0 or exp of a large number (write σ'(a) with the value σ(a) of the "
        "cache, not with a new exponential).",
        ratio="a factor that stays the same when the weight changes is wrong or missing, such as the input x.",
        fallback=(
            "Check the local derivatives on the chain to L one at a time, against your table of Exercise "
            "2.2: the sigmoid's derivative where a unit is differentiated (not σ itself), each at its own "
            "unit; the inner derivative of each unit's input a = (weight)·(what it reads) on the way; and "
            "dL/dy, from L = −log y."
        ),
    ),
    "many-paths": Advice(
        output="the loss L",
        sign="Look for a minus sign dropped or added, for example ŷ − y versus y − ŷ.",
        half="A factor 2 is missing, or one of two contributions (paths, outputs) is not added in.",
        smaller="a missing term (a path or an example not added in) or a stray division by {k}",
        larger="a path counted {k} times or a stray factor {k}",
        examples=True,
        nonfinite="Look for log(0), 0/0 or exp of a large number (use σ(a)(1 − σ(a)) for σ'(a)).",
        ratio="compare each constant factor in your formula with the notes (the inputs x_j, the 1/m of the mean).",
        fallback=(
            "The derivative is the sum over every path to L of the product of the local derivatives "
            "along it: check that each path is counted once, then each product factor by factor "
            "(σ'(a) = σ(a)(1 − σ(a)) is needed, not σ(a))."
        ),
    ),
    "all-parameters": Advice(
        output="the loss L",
        sign="Look for a minus sign dropped or added, for example ŷ − y versus y − ŷ.",
        half="A factor 2 is missing, or one of two contributions (outputs, examples) is not added in.",
        smaller="a missing term (an output or an example not added in) or a stray division by {k}",
        larger="a term counted {k} times or a stray factor {k}",
        examples=True,
        nonfinite="Look for log(0), 0/0 or exp of a large number (use σ(a)(1 − σ(a)) for σ'(a)).",
        ratio="compare each constant factor in your formula with the notes (the 1/m of the mean, the inputs X).",
        fallback=(
            "Check your backward pass one step at a time against the forward pass: the 1/m of the mean, "
            "σ'(a) = σ(a)(1 − σ(a)) (not σ(a)), which matrix is transposed in each product, and the sum "
            "over examples for the biases."
        ),
    ),
}

_current = ["general"]


def set_context(name: str | None) -> None:
    """Set the context for every later check in this kernel (``None``: back to ``"general"``)."""
    _current[0] = resolve_context(name or "general")


def get_context() -> str:
    """The context set by :func:`set_context` (``"general"`` unless set)."""
    return _current[0]


def resolve_context(name: str | None) -> str:
    """``name`` checked against :data:`CONTEXTS`, or the module's setting when ``name`` is None."""
    if name is None:
        return _current[0]
    if not isinstance(name, str) or name not in CONTEXTS:
        raise GradientInputError(
            f"context must be one of {', '.join(repr(c) for c in CONTEXTS)}, got {name!r}"
        )
    return name


def advice_for(name: str) -> Advice:
    """The words for context ``name``."""
    return CONTEXTS[name]
