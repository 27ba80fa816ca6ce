"""Golden outputs of :mod:`course_lib.drawing`: the cases, how a figure is summed up, and the recorder.

``testkit/golden/drawing.json`` was recorded from the single-module ``course_lib/drawing.py`` (before it
became a package), by running this file::

    MPLBACKEND=Agg .venv/bin/python -m testkit.drawing_golden

``tests/test_drawing_golden.py`` redraws every case and compares three things with the recording:

* ``text``: the figure's ``alt_text`` (for graphs, :func:`describe_graph`), stored in full;
* ``artists``: a SHA-256 of what the figure is made of, read back from matplotlib (every line, patch,
  text and collection with its coordinates, colours, widths, styles, fonts and z-order; the axes limits
  and the figure size), numbers rounded to 9 significant digits. These are our own numbers, so the hash
  does not depend on how matplotlib rasterises. A few values have no public getter and are read from
  private attributes (a line's dash pattern, an arrow's ends, a text's line spacing, a legend's location
  and columns, the suptitle): a matplotlib that renames them needs a new recording;
* ``png``: a SHA-256 of the PNG bytes, which do depend on the matplotlib version (font rasterising), so
  that comparison runs only under the matplotlib version recorded in ``matplotlib``.

Re-record only when a picture is *meant* to change, and say so in the commit.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.collections import Collection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text

from course_lib import models
from course_lib.drawing import (
    describe_graph,
    draw_decision_regions,
    draw_function_and_derivative,
    draw_graph,
    draw_loss_curve,
    draw_path_cost,
    figure_to_png,
    layered_chain,
)
from course_lib.graph import Node
from course_lib.paths import enumerate_paths

GOLDEN = Path(__file__).resolve().parent / "golden" / "drawing.json"


def _net(seed: int = 0, backward: bool = True) -> dict[str, Node]:
    g = models.network_graph(models.init_params(seed), [0.5, -1.0], [1.0, 0.0])
    if backward:
        g["L"].backward()
    return g


def _chain(backward: bool) -> dict[str, Node]:
    g = models.sigmoid_chain(1.0, 0.5, -1.2, 0.8)
    if backward:
        g["L"].backward()
    return g


def _with_constants() -> Node:
    x, w = Node(2.0, "x"), Node(-0.5, "w")
    y = ((x * 3.0 + w) ** 2).named("y")
    z = (y.exp() / (x - 1.5)).named("z")
    z.backward()
    return z


def _net_many_options() -> Figure:
    g = _net(1)
    paths = enumerate_paths(g["w_213"], g["L"])
    return draw_graph(
        g["L"], highlight_paths=paths, highlight_nodes=[g["x_1"]], highlight_edges=[(g["w_111"], g["a_11"])],
        shown_grads={g["L"]: 1.0, g["yhat_1"]: g["yhat_1"].grad, g["a_21"]: None}, digits=4, fontsize=8.0,
    )


def _network_highlight_node() -> Figure:
    g = _net()  # a node as highlight_paths: all its paths to the root
    return draw_graph(g["L"], highlight_paths=g["w_131"], title="Paths")


def _into_given_axes() -> Figure:
    fig = Figure(figsize=(8.0, 3.5), dpi=90)
    ax = fig.add_axes((0.05, 0.1, 0.9, 0.8))
    return draw_graph(_chain(True)["L"], ax=ax, title="into axes")


#: name -> a function drawing one figure (fresh nodes every call)
FIGURES: dict[str, Callable[[], Figure]] = {
    "chain_before_backward": lambda: draw_graph(_chain(False)["L"]),
    "chain_after_backward_no_grad": lambda: draw_graph(_chain(True)["L"], show_grad=False, title="σ chain"),
    "network_highlight_node": _network_highlight_node,
    "network_many_options": _net_many_options,
    "constants_shown_no_labels": lambda: draw_graph(_with_constants(), include_constants=True, edge_labels=False),
    "constants_hidden": lambda: draw_graph(_with_constants(), title="constants hidden"),
    "exp_exp_small_figsize": lambda: draw_graph(models.exp_exp_chain(0.7)["y"], figsize=(4.0, 2.0), dpi=80),
    "layered_chain_max_size": lambda: draw_graph(layered_chain(3, 3)["L"], max_size=(10.0, 6.5), dpi=90),
    "into_given_axes": _into_given_axes,
    "path_cost": lambda: draw_path_cost(range(1, 9), 3),
    "function_and_derivative": lambda: draw_function_and_derivative(
        models.sigmoid, lambda z: models.sigmoid(z) * (1 - models.sigmoid(z)), np.linspace(-6, 6, 61), name="σ"),
    "loss_curve": lambda: draw_loss_curve([1.2, 0.9, 0.7, 0.65, 0.6, 0.61], log_y=True),
    "decision_regions": lambda: draw_decision_regions(
        models.init_params(0), *models.make_dataset(24), models.forward, grid_points=41, title="regions"),
}


def _describe_cases() -> dict[str, Callable[[], str]]:
    def with_paths() -> str:
        g = _net()
        return describe_graph(g["L"], enumerate_paths(g["w_131"], g["L"]))

    def node_paths_digits() -> str:
        g = _net(2)
        return describe_graph(g["L"], g["w_212"], digits=4)

    def other_target() -> str:  # paths that do not end at the root: no comparison with backward()
        g = _net()
        return describe_graph(g["L"], enumerate_paths(g["w_111"], g["h_11"]))

    return {
        "describe_chain_before_backward": lambda: describe_graph(_chain(False)["L"]),
        "describe_network_with_paths": with_paths,
        "describe_node_paths_digits": node_paths_digits,
        "describe_paths_to_an_inner_node": other_target,
        "describe_layered_chain": lambda: describe_graph(layered_chain(2, 3)["L"]),
    }


DESCRIBE: dict[str, Callable[[], str]] = _describe_cases()


def _num(x: object) -> object:
    """Numbers rounded to 9 significant digits (arrays and tuples element by element); the rest as str."""
    if isinstance(x, np.ndarray | list | tuple):
        return [_num(v) for v in np.asarray(x, dtype=object).ravel().tolist()] if np.size(x) else []
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | float | np.integer | np.floating):
        return float(f"{float(x):.9g}") + 0.0
    return str(x)


def _text(t: Text) -> dict[str, object]:
    patch = t.get_bbox_patch()
    return {
        "text": t.get_text(), "pos": _num(t.get_position()), "size": _num(t.get_fontsize()),
        "family": t.get_fontfamily(), "weight": str(t.get_fontweight()), "style": t.get_fontstyle(),
        "color": _num(matplotlib.colors.to_rgba(t.get_color())), "ha": t.get_ha(), "va": t.get_va(),
        "z": _num(t.get_zorder()), "linespacing": _num(t._linespacing),
        "bbox": None if patch is None else _patch(patch, with_path=False),
    }


def _line(ln: Line2D) -> dict[str, object]:
    return {
        "xy": _num(np.asarray(ln.get_xydata(), dtype=float)), "color": _num(matplotlib.colors.to_rgba(ln.get_color())),
        "lw": _num(ln.get_linewidth()), "ls": str(ln.get_linestyle()),
        "dashes": _num(ln._unscaled_dash_pattern[1] or ()),
        "marker": str(ln.get_marker()), "ms": _num(ln.get_markersize()), "z": _num(ln.get_zorder()),
        "label": ln.get_label(),
    }


def _style(style: object) -> dict[str, object]:
    """A box or arrow style by its class and settings (its ``str`` holds a memory address)."""
    return {"class": type(style).__name__, **{k: _num(v) for k, v in sorted(vars(style).items())}}


def _patch(p: Patch, with_path: bool = True) -> dict[str, object]:
    out: dict[str, object] = {
        "type": type(p).__name__, "fc": _num(p.get_facecolor()), "ec": _num(p.get_edgecolor()),
        "lw": _num(p.get_linewidth()), "ls": str(p.get_linestyle()), "z": _num(p.get_zorder()),
    }
    if hasattr(p, "get_boxstyle"):
        out["boxstyle"] = _style(p.get_boxstyle())
        out["box"] = _num((p.get_x(), p.get_y(), p.get_width(), p.get_height()))
        out["mutation_aspect"] = _num(p.get_mutation_aspect())
    if hasattr(p, "get_arrowstyle"):
        out["arrowstyle"] = _style(p.get_arrowstyle())
        out["ends"] = _num(p._posA_posB)
        out["mutation_scale"] = _num(p.get_mutation_scale())
    elif with_path and not hasattr(p, "get_boxstyle"):
        out["path"] = _num(p.get_path().vertices)
    return out


def _collection(c: Collection) -> dict[str, object]:
    return {
        "type": type(c).__name__, "offsets": _num(np.asarray(c.get_offsets(), dtype=float)),
        "fc": _num(c.get_facecolor()), "ec": _num(c.get_edgecolor()), "lw": _num(c.get_linewidth()),
        "n_paths": len(c.get_paths()), "z": _num(c.get_zorder()), "label": c.get_label(),
    }


def figure_summary(fig: Figure) -> dict[str, object]:
    """What ``fig`` is made of, as plain data (see the module docstring); tick labels are left out."""
    axes = []
    for ax in fig.axes:
        legend = ax.get_legend()
        axes.append({
            "position": _num(ax.get_position().bounds), "xlim": _num(ax.get_xlim()), "ylim": _num(ax.get_ylim()),
            "scales": [ax.get_xscale(), ax.get_yscale()], "axis_on": ax.axison,
            "title": _text(ax.title), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(),
            "lines": [_line(ln) for ln in ax.lines],
            "patches": [_patch(p) for p in ax.patches],
            "texts": [_text(t) for t in ax.texts],
            "collections": [_collection(c) for c in ax.collections],
            "legend": None if legend is None else {
                "texts": [_text(t) for t in legend.get_texts()],
                "handles": [_line(h) if isinstance(h, Line2D) else type(h).__name__ for h in legend.legend_handles],
                "loc": _num(legend._loc), "ncols": legend._ncols,
            },
        })
    suptitle = fig._suptitle
    return {
        "size": _num(fig.get_size_inches()), "dpi": _num(fig.dpi), "axes": axes,
        "suptitle": None if suptitle is None else _text(suptitle),
    }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def figure_record(fig: Figure) -> dict[str, str]:
    """The three things compared for a figure: its alt text, the hash of its summary, the hash of its PNG."""
    png = figure_to_png(fig)  # drawn first, so every artist has its final state
    summary = json.dumps(figure_summary(fig), sort_keys=True, ensure_ascii=False)
    return {"text": fig.alt_text, "artists": _sha(summary.encode()), "png": _sha(png)}


def record() -> dict[str, object]:
    """Every case drawn now, in the golden file's format."""
    return {
        "matplotlib": matplotlib.__version__,
        "figures": {name: figure_record(draw()) for name, draw in FIGURES.items()},
        "describe": {name: describe() for name, describe in DESCRIBE.items()},
    }


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(record(), indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}", file=sys.stderr)
