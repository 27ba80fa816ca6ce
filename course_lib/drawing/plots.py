"""Plots of numbers: paths vs backprop, a function and its derivative, a loss curve, decision regions.

Every function returns a figure with ``fig.alt_text``: a sentence and a table of the plotted numbers.
Lines differ by marker and style as well as colour; filled contours use ``cividis`` (colour-blind safe).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from course_lib.drawing.figures import PALETTE, finish, new_figure
from course_lib.paths import path_cost_rows, path_cost_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.contour import QuadContourSet
    from matplotlib.figure import Figure

__all__ = ["draw_decision_regions", "draw_function_and_derivative", "draw_loss_curve", "draw_path_cost"]


def draw_path_cost(
    depths: Sequence[int], width: int, *, ax: Axes | None = None, title: str | None = None,
    figsize: tuple[float, float] = (7.0, 4.2), dpi: float = 100.0,
) -> Figure:
    """Plot, against depth, the paths from ``w_111`` to ``L`` and the multiplications of both methods.

    The network is :func:`course_lib.models.layered_chain` (``depth`` layers of ``width`` fully connected
    units). The y-axis is logarithmic; the three lines differ by marker, line style and legend entry, not
    only by colour. Enumerating paths grows like ``width^depth``; one backward pass grows linearly in depth
    and gives every gradient at once. ``fig.alt_text`` holds a sentence and :func:`course_lib.paths.path_cost_table`.
    """
    rows = path_cost_rows(depths, width)
    if ax is None:
        fig = new_figure(figsize=figsize, dpi=dpi, layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.get_figure()
    d = [r["depth"] for r in rows]
    ax.plot(d, [r["path_mults"] for r in rows], color=PALETTE["vermillion"], marker="o", linestyle="-", lw=2,
            label="× to enumerate every path (one weight)")
    ax.plot(d, [r["backward_mults"] for r in rows], color=PALETTE["blue"], marker="s", linestyle="--", lw=2,
            label="× for one backward pass (all weights)")
    ax.plot(d, [r["paths"] for r in rows], color=PALETTE["grey"], marker="^", linestyle=":", lw=1.5,
            label="number of paths w_111 → L")
    ax.set_yscale("log")
    ax.set_xlabel("depth (layers)")
    ax.set_ylabel("count (log scale)")
    ax.set_xticks(d)
    ax.grid(True, which="major", alpha=0.3)
    ax.set_title(title or f"Paths vs backprop: fully connected layers of width {width}", fontsize=11)
    ax.legend(loc="upper left", fontsize=9)
    last = rows[-1]
    ax.annotate(f"{last['path_mults']:,}", (last["depth"], last["path_mults"]), textcoords="offset points",
                xytext=(-9, 0), ha="right", va="center", fontsize=8, color=PALETTE["vermillion"])
    ax.annotate(f"{last['backward_mults']:,}", (last["depth"], last["backward_mults"]), textcoords="offset points",
                xytext=(0, -9), ha="center", va="top", fontsize=8, color=PALETTE["blue"])
    first = rows[0]
    fig.alt_text = (
        f"Log-scale plot against depth ({d[0]} to {d[-1]}) for fully connected layers of width {width}. "
        f"Enumerating the paths from w_111 to L needs {first['path_mults']:,} multiplications at depth {d[0]} "
        f"and {last['path_mults']:,} at depth {d[-1]}; one backward pass needs {first['backward_mults']:,} and "
        f"{last['backward_mults']:,}, and gives every weight's gradient at once.\n\n"
        + path_cost_table(depths, width)
    )
    return finish(fig)


def sample_table(header: Sequence[str], columns: Sequence[Sequence[float]], digits: int = 4) -> str:
    """Columns of numbers as an aligned text table under ``header`` (``digits`` significant digits)."""
    body = [[f"{c[i]:.{digits}g}" for c in columns] for i in range(len(columns[0]))]
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in [list(header), *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def sample_indices(n: int, k: int) -> list[int]:
    """At most ``k`` indices spread evenly over ``range(n)``, first and last included."""
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def draw_function_and_derivative(
    f: Callable[[float], float],
    df: Callable[[float], float],
    xs: Sequence[float] | np.ndarray,
    *,
    name: str = "f",
    title: str | None = None,
    n_samples: int = 7,
    figsize: tuple[float, float] = (6.5, 4.8),
    dpi: float = 100.0,
    variable: str = "x",
) -> Figure:
    """Plot ``f`` (top panel, solid) and its derivative ``df`` (bottom panel, dashed) on the same x.

    ``f`` and ``df`` are called on one float at a time (a function returning a graph ``Node`` works too).
    ``variable`` names the horizontal axis (``"w1"`` for the loss as a function of the weight w1): the axis
    label, the legend ``L(w1)``, ``L′(w1)`` and the alt text use it. ``fig.alt_text`` holds a sentence and a
    table of ``n_samples`` points ``x, f(x), f'(x)``.
    """
    v = variable
    x = np.asarray(xs, dtype=np.float64).ravel()
    if x.size < 2:
        raise ValueError("xs needs at least two points")
    fx = np.array([float(f(float(v))) for v in x])
    dfx = np.array([float(df(float(v))) for v in x])
    fig = new_figure(figsize=figsize, dpi=dpi, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(x, fx, color=PALETTE["blue"], lw=2, linestyle="-", label=f"{name}({v})")
    bottom.plot(x, dfx, color=PALETTE["vermillion"], lw=2, linestyle="--", label=f"{name}′({v})")
    for ax, label in ((top, f"{name}({v})"), (bottom, f"{name}′({v})")):
        ax.axhline(0.0, color=PALETTE["grey"], lw=0.8)
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=9)
    bottom.set_xlabel(v)
    top.set_title(title or f"{name} and its derivative {name}′", fontsize=11)
    idx = sample_indices(len(x), n_samples)
    fig.alt_text = (
        f"Two panels over {v} from {x[0]:.4g} to {x[-1]:.4g}: {name}({v}) on top (solid line), ranging from "
        f"{fx.min():.4g} to {fx.max():.4g}; its derivative {name}′({v}) below (dashed line), ranging from "
        f"{dfx.min():.4g} to {dfx.max():.4g}. Sample points:\n\n"
        + sample_table((v, f"{name}({v})", f"{name}'({v})"), [x[idx], fx[idx], dfx[idx]])
    )
    return finish(fig)


def draw_loss_curve(
    losses: Sequence[float] | np.ndarray,
    *,
    ax: Axes | None = None,
    title: str = "Training loss",
    xlabel: str = "step",
    log_y: bool = False,
    figsize: tuple[float, float] = (6.0, 3.6),
    dpi: float = 100.0,
) -> Figure:
    """Plot a loss curve (solid line; round markers when there are few points), minimum marked by a star.

    ``fig.alt_text`` gives the first, last and smallest loss and a table of sample steps.
    """
    y = np.asarray(losses, dtype=np.float64).ravel()
    if y.size == 0:
        raise ValueError("losses is empty: train for at least one step")
    if ax is None:
        fig = new_figure(figsize=figsize, dpi=dpi, layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.get_figure()
    steps = np.arange(y.size)
    ax.plot(steps, y, color=PALETTE["blue"], lw=2, marker="o" if y.size <= 50 else None, ms=4, label="loss")
    best = int(np.argmin(y))
    ax.plot([best], [y[best]], linestyle="none", marker="*", ms=13, color=PALETTE["vermillion"],
            markeredgecolor="black", label=f"minimum {y[best]:.4g} (step {best})")
    if log_y and np.all(y > 0):
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize=9)
    idx = sample_indices(y.size, 6)
    change = "fell" if y[-1] < y[0] else "rose" if y[-1] > y[0] else "did not change"
    fig.alt_text = (
        f"Loss over {y.size} {xlabel}s: it {change} from {y[0]:.4g} to {y[-1]:.4g}; the smallest value "
        f"{y[best]:.4g} is at {xlabel} {best}.\n\n" + sample_table((xlabel, "loss"), [steps[idx], y[idx]])
    )
    return finish(fig)


def _region_panel(
    ax: Axes, k: int, G0: np.ndarray, G1: np.ndarray, Z: np.ndarray, X: np.ndarray, y: np.ndarray, levels: np.ndarray
) -> QuadContourSet:
    """Output ``k``'s panel: ``Z`` filled (cividis), its 0.5 contour in black, the data by target ``y``."""
    filled = ax.contourf(G0, G1, Z, levels=levels, cmap="cividis", vmin=0.0, vmax=1.0)
    ax.contour(G0, G1, Z, levels=[0.5], colors="black", linewidths=1.8)
    pos, neg = y >= 0.5, y < 0.5
    ax.scatter(X[pos, 0], X[pos, 1], marker="o", s=40, c=PALETTE["vermillion"], edgecolors="black",
               linewidths=0.9, label=f"y_{k + 1} = 1 (circle)", zorder=3)
    ax.scatter(X[neg, 0], X[neg, 1], marker="X", s=55, c=PALETTE["sky"], edgecolors="black",
               linewidths=0.7, label=f"y_{k + 1} = 0 (cross)", zorder=3)
    ax.plot([], [], color="black", lw=1.8, label="ŷ = 0.5 boundary")
    ax.set_title(f"output ŷ_{k + 1}", fontsize=11)
    ax.set_xlabel("x_1")
    ax.set_aspect("equal")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8, frameon=False)
    return filled


def draw_decision_regions(
    params: Mapping[str, np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    forward_fn: Callable[[Mapping[str, np.ndarray], np.ndarray], Mapping[str, np.ndarray]],
    *,
    grid_points: int = 121,
    title: str | None = None,
    figsize: tuple[float, float] = (9.0, 4.0),
    dpi: float = 100.0,
) -> Figure:
    """What the network learned: for each output k, a filled contour of ŷ_k over the plane, with the data.

    ``forward_fn(params, points)["Yhat"]`` gives the outputs (``course_lib.models.forward``). The colour
    map is ``cividis`` (colour-blind safe) and the ŷ = 0.5 boundary is a solid black line. Points with
    target 1 are vermillion circles, target 0 are sky-blue crosses: shape and colour both tell them apart.
    ``fig.alt_text`` gives each output's accuracy on the data and the share of the plane above 0.5.
    """
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
    if X.shape[1] != 2:
        raise ValueError(f"decision regions need 2 input features, X has {X.shape[1]}")
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} examples but Y has {Y.shape[0]}")
    pad = 0.1 * max(float(np.ptp(X[:, 0])), float(np.ptp(X[:, 1])), 1e-9)
    g0 = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, grid_points)
    g1 = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, grid_points)
    G0, G1 = np.meshgrid(g0, g1)
    grid_out = np.asarray(forward_fn(params, np.column_stack([G0.ravel(), G1.ravel()]))["Yhat"])
    data_out = np.asarray(forward_fn(params, X)["Yhat"])
    n_out = grid_out.shape[1]
    if Y.shape[1] != n_out:
        raise ValueError(f"Y has {Y.shape[1]} columns but the network has {n_out} outputs")

    fig = new_figure(figsize=figsize, dpi=dpi, layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n_out, sharey=True))
    levels = np.linspace(0.0, 1.0, 11)
    summary = []
    filled = None
    for k, ax in enumerate(axes):
        Z = grid_out[:, k].reshape(G0.shape)
        filled = _region_panel(ax, k, G0, G1, Z, X, Y[:, k], levels)
        accuracy = float(np.mean((data_out[:, k] >= 0.5) == (Y[:, k] >= 0.5)))
        share = float(np.mean(Z >= 0.5))
        summary.append(
            f"output {k + 1}: {accuracy:.0%} of the {X.shape[0]} points on the right side of ŷ = 0.5; "
            f"the network predicts ŷ ≥ 0.5 on {share:.0%} of the plane shown"
        )
    axes[0].set_ylabel("x_2")
    if filled is not None:
        fig.colorbar(filled, ax=list(axes), label="ŷ_k (network output)", shrink=0.85)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.alt_text = (
        f"Decision regions: {n_out} panels, one per output, shading the network's output ŷ_k over "
        f"x_1 in [{g0[0]:.3g}, {g0[-1]:.3g}] and x_2 in [{g1[0]:.3g}, {g1[-1]:.3g}] (dark = 0, yellow = 1), "
        "with the 0.5 boundary and the data (circles: target 1, crosses: target 0).\n"
        + "\n".join(summary)
    )
    return finish(fig)
