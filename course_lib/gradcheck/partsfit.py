r"""Missing, doubled or sign-flipped contributions, from the loss split into parts.

Given the loss as a sum of parts $f = \sum_k f_k$ (per output, per example, per path, regulariser), fit
$a \approx \sum_k c_k \nabla f_k$ with small integer $c_k$: $c_k = 0$ is a missing contribution, $2$ one
counted twice, $-1$ one with the wrong sign.
"""

from __future__ import annotations

import numpy as np

__all__ = ["describe_parts_fit", "fit_parts", "parts_fit_holds"]


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"1 {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


def fit_parts(a: np.ndarray, parts: np.ndarray, tol: np.ndarray) -> np.ndarray | None:
    """Small-integer coefficients c with ``a ≈ c @ parts`` within ``tol`` (``parts`` is K × n), or None.

    Tries the least-squares solution rounded to integers when it is determined, then the patterns "one
    part missing", "one part alone", "one part twice" and "one part with the wrong sign". Patterns that
    are a multiple of all ones (sign or factor, explained elsewhere) and all-zero predictions are skipped.
    """
    k = parts.shape[0]
    candidates: list[np.ndarray] = []
    if parts.shape[1] >= k and np.linalg.matrix_rank(parts.T) == k:
        c, *_ = np.linalg.lstsq(parts.T, a, rcond=None)
        rounded = np.round(c)
        if np.all(np.abs(c - rounded) <= 0.02) and np.all(np.abs(rounded) <= 4):
            candidates.append(rounded)
    eye = np.eye(k)
    ones = np.ones(k)
    candidates += [ones - eye[j] for j in range(k)] + [eye[j] for j in range(k)]
    candidates += [ones + eye[j] for j in range(k)] + [ones - 2 * eye[j] for j in range(k)]
    for c in candidates:
        if np.allclose(c, c[0]):
            continue
        prediction = c @ parts
        if not np.any(np.abs(prediction) > tol):
            continue
        if parts_fit_holds(a, parts, tol, c):
            return c
    return None


def parts_fit_holds(a: np.ndarray, parts: np.ndarray, tol: np.ndarray, c: np.ndarray) -> bool:
    """Whether ``a ≈ c @ parts`` within tolerance (used to confirm a fit at the other test points)."""
    if not np.all(np.isfinite(a)):
        return False
    return bool(np.all(np.abs(a - c @ parts) <= 2 * tol + 1e-6 * (np.abs(c) @ np.abs(parts))))


def _names(names: list[str], limit: int = 3) -> str:
    quoted = [f"'{n}'" for n in names]
    if len(quoted) <= limit:
        return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
    return ", ".join(quoted[:limit]) + f" and {len(quoted) - limit} more"


def describe_parts_fit(params: list[str], coefficients: np.ndarray, part_names: list[str]) -> str:
    """One sentence for a parts fit shared by the parameters ``params``."""
    c = [int(round(x)) for x in coefficients]
    ones = [p for p, x in zip(part_names, c, strict=True) if x == 1]
    zeros = [p for p, x in zip(part_names, c, strict=True) if x == 0]
    twice = [p for p, x in zip(part_names, c, strict=True) if x == 2]
    negative = [p for p, x in zip(part_names, c, strict=True) if x == -1]
    other = [(p, x) for p, x in zip(part_names, c, strict=True) if x not in (-1, 0, 1, 2)]
    pieces = []
    if zeros:
        if ones and len(ones) <= 2 and len(zeros) > len(ones):
            pieces.append(
                f"contains only the contribution of {_names(ones)}; the other "
                f"{_plural(len(zeros), 'part')} ({_names(zeros)}) {'is' if len(zeros) == 1 else 'are'} "
                "missing"
            )
        else:
            pieces.append(f"misses the contribution of {_names(zeros)}")
    if twice:
        pieces.append(f"counts the contribution of {_names(twice)} twice")
    if negative:
        pieces.append(f"has the contribution of {_names(negative)} with the wrong sign")
    if other:
        pieces.append("weights " + ", ".join(f"'{p}' by {x}" for p, x in other))
    who = ", ".join(params)
    sentence = f"{who}: compared part by part, your gradient " + "; it ".join(pieces) + "."
    if zeros:
        sentence += (
            " A parameter that reaches the loss along several paths (outputs, examples, terms) receives the "
            "sum of the contributions of all of them: a path of the chain rule was dropped."
        )
    return sentence
