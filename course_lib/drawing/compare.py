"""Several training runs in one picture: :func:`draw_loss_curves` (e.g. one loss curve per learning rate).

Like every drawing function it returns a figure with ``fig.alt_text``: a sentence per run and a table of
the plotted numbers. The runs differ by line style and marker as well as colour (Okabe–Ito palette), and
each run's label is written at the end of its line, so colour is never the only signal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from course_lib.drawing.figures import PALETTE, finish, new_figure
from course_lib.drawing.plots import sample_indices, sample_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["draw_loss_curves"]

#: (colour, line style, marker) per run, in order: each differs from the others in all three.
_STYLES = (
    (PALETTE["blue"], "-", "o"),
    (PALETTE["vermillion"], "--", "s"),
    (PALETTE["green"], ":", "^"),
    (PALETTE["purple"], "-.", "D"),
    (PALETTE["black"], (0, (5, 1, 1, 1)), "v"),
)


def _describe_run(label: str, y: np.ndarray, xlabel: str) -> str:
    """One sentence on one run: where it started and ended, its smallest value, and whether it ever rose."""
    finite = np.isfinite(y)
    if not finite.all():
        first_bad = int(np.argmin(finite))
        return f"{label}: the loss is not a finite number from {xlabel} {first_bad} on (it blew up)."
    best = int(np.argmin(y))
    rises = int(np.sum(np.diff(y) > 0))
    change = "fell" if y[-1] < y[0] else "rose" if y[-1] > y[0] else "did not change"
    sentence = (f"{label}: the loss {change} from {y[0]:.4g} to {y[-1]:.4g} (smallest {y[best]:.4g} at "
                f"{xlabel} {best}, largest {y.max():.4g})")
    if rises:
        sentence += f"; it went up on {rises} of {y.size - 1} {xlabel}s"
    return sentence + "."


def draw_loss_curves(
    curves: Mapping[str, Sequence[float] | np.ndarray],
    *,
    title: str = "Training loss",
    xlabel: str = "step",
    log_y: bool = True,
    figsize: tuple[float, float] = (7.0, 3.8),
    dpi: float = 100.0,
) -> Figure:
    """Plot one loss curve per run on shared axes (log scale by default: the runs may differ a hundredfold).

    ``curves`` maps a label (e.g. ``"η = 0.1"``) to that run's losses, one per step; up to five runs, all
    of the same length. Each run gets its own colour, line style and marker, and its label at the end of
    the line. ``fig.alt_text`` describes each run in a sentence and tables the losses at sample steps.
    """
    if not curves:
        raise ValueError("curves is empty: give at least one run, e.g. {'η = 0.1': losses}")
    if len(curves) > len(_STYLES):
        raise ValueError(f"at most {len(_STYLES)} runs fit in one picture, got {len(curves)}")
    runs = {str(label): np.asarray(losses, dtype=np.float64).ravel() for label, losses in curves.items()}
    sizes = {y.size for y in runs.values()}
    if 0 in sizes:
        raise ValueError("a run has no losses: train for at least one step")
    if len(sizes) != 1:
        lengths = ", ".join(f"{label}: {y.size}" for label, y in runs.items())
        raise ValueError(f"every run needs the same number of losses, got {lengths}")
    n = sizes.pop()
    fig = new_figure(figsize=figsize, dpi=dpi, layout="constrained")
    ax = fig.add_subplot()
    steps = np.arange(n)
    mark_every = max(1, n // 10)
    positive = all(np.all(y[np.isfinite(y)] > 0) for y in runs.values())
    for (label, y), (colour, style, marker) in zip(runs.items(), _STYLES, strict=False):
        ax.plot(steps, y, color=colour, linestyle=style, lw=2, marker=marker, ms=5, markevery=mark_every,
                label=label)
        if np.isfinite(y[-1]):
            ax.annotate(label, (steps[-1], y[-1]), xytext=(4, 0), textcoords="offset points", va="center",
                        fontsize=9, color=colour)
    if log_y and positive:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss" + (" (log scale)" if log_y and positive else ""))
    ax.set_title(title, fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    ax.margins(x=0.12)
    idx = sample_indices(n, 7)
    fig.alt_text = (
        f"Loss over {n} {xlabel}s for {len(runs)} runs"
        + (" (log scale)" if log_y and positive else "") + ".\n"
        + "\n".join(_describe_run(label, y, xlabel) for label, y in runs.items())
        + "\n\n" + sample_table((xlabel, *runs), [steps[idx], *(y[idx] for y in runs.values())])
    )
    return finish(fig)
