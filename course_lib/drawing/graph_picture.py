"""The picture of a computation graph (:func:`draw_graph`), its alt text and the text of each node box.

A box per node (``label = operation``, value, gradient), an arrow per edge labelled with its local
derivative ∂child/∂parent, inputs on the left and the loss on the right (:func:`layered_layout`).
Colour is never the only signal: highlighted nodes carry a ``★`` and a thick border, highlighted edges
are thick and dashed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from course_lib import guard
from course_lib.drawing.figures import (
    FILL_INPUT,
    FILL_MARKED,
    FILL_OP,
    FILL_ROOT,
    MARK,
    MONO,
    PALETTE,
    finish,
    matplotlib_classes,
    new_figure,
)
from course_lib.drawing.layout import (
    Frame,
    Grid,
    fit,
    label_half_size,
    label_spot,
    layered_layout,
    measure,
    node_keepouts,
)
from course_lib.graph import Node
from course_lib.paths import Path, enumerate_paths
from course_lib.trace import format_trace

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["describe_graph", "draw_graph", "node_text"]

_Edge = tuple[Node, Node]
_DrawnEdge = tuple[Node, Node, float]  # (parent, child, local derivative)
_COLOUR_EDGE, _COLOUR_MARK = PALETTE["grey"], PALETTE["vermillion"]
_DASHED = (0, (4, 2))
_NOTE = "(run backward() to fill gradients: grad shows — until then)"


# ============================================================================ node text
_SUPERSCRIPTS = str.maketrans("0123456789-.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·")
_BINARY = {"+": " + ", "-": " − ", "*": " × ", "/": " / "}
_SIMPLE = {"neg": "−{}", "1/x": "1/{}", "sigmoid": "σ({})", "exp": "exp({})", "log": "log({})",
           "tanh": "tanh({})", "relu": "relu({})", "-log": "−log {}"}


def _fmt(x: float, digits: int) -> str:
    """A number with ``digits`` significant digits and a true minus sign."""
    return f"{x:.{digits}g}".replace("-", "−")


def _body(op: str, names: list[str]) -> str:
    """The right-hand side of ``h1 = σ(a1)`` for an operation ``op`` on parents named ``names``."""
    one = names[0] if names else "?"
    if op in _BINARY and len(names) == 2:
        return names[0] + _BINARY[op] + names[1]
    if op in _SIMPLE:
        return _SIMPLE[op].format(one)
    if op.startswith("**"):
        return one + op[2:].translate(_SUPERSCRIPTS)
    if op == "Σw·x":
        return "Σ w·x + b" if len(names) % 2 else "Σ w·x"
    if op == "sum":
        return "Σ(" + ", ".join(names) + ")" if len(names) <= 2 else f"sum of {len(names)}"
    if op == "NLL":
        return "NLL(" + ", ".join(names) + ")" if len(names) <= 1 else "NLL(ŷ, y)"
    return f"{op}(" + ", ".join(names) + ")"


def _expression(node: Node) -> str:
    """``h1 = σ(a1)``: the node's name and the operation that produced it (cut to 16 characters)."""
    if node.op == "input":
        return f"{node.name} (input)"
    if node.op == "const":
        return f"{node.name} (constant)"
    body = _body(node.op, [p.name for p in node.parents])
    if len(body) > 16:
        body = body[:15] + "…"
    return f"{node.name} = {body}"


def node_text(node: Node, *, grad: float | None | str = None, show_grad: bool = True, digits: int = 3) -> str:
    """The text of a node's box: ``"h1 = σ(a1)\\nvalue 0.622\\ngrad 0.112"``.

    ``grad`` overrides the gradient line: a number, ``None`` for "?" (not revealed yet) or a string
    (``"—"`` before backward has run). Numbers have ``digits`` significant digits.
    """
    lines = [_expression(node), f"value {_fmt(node.value, digits)}"]
    if show_grad:
        if grad is None:
            lines.append("grad ?")
        elif isinstance(grad, str):
            lines.append(f"grad {grad}")
        else:
            lines.append(f"grad {_fmt(grad, digits)}")
    return "\n".join(lines)


# ============================================================================ what is drawn
def _grads_filled(root: Node) -> bool:
    """After ``root.backward()`` the root's own grad is 1; before (or after ``zero_grad``) it is 0."""
    return root.grad != 0.0


def _edges(nodes: Sequence[Node], pos: Mapping[Node, tuple[float, float]]) -> list[_DrawnEdge]:
    """Every drawn edge (parent, child, local derivative), in forward order and parent-slot order."""
    out = []
    for child in nodes:
        for parent, local in zip(child.parents, child.local_grads, strict=True):
            if parent in pos:
                out.append((parent, child, local))
    return out


def _resolve_paths(root: Node, highlight_paths: Sequence[Path] | Node | None) -> list[Path]:
    """The paths to highlight: none, the given ones, or every path from a given node to ``root``."""
    if highlight_paths is None:
        return []
    if isinstance(highlight_paths, Node):
        return enumerate_paths(highlight_paths, root)
    return list(highlight_paths)


@dataclass(frozen=True)
class _Marks:
    """The highlighted nodes and ``(parent, child)`` edges, by ``id``."""

    nodes: frozenset[int]
    edges: frozenset[tuple[int, int]]


def _marks(paths: Sequence[Path], nodes: Sequence[Node], edges: Sequence[_Edge]) -> _Marks:
    """The nodes and edges of ``paths``, plus the extra ``nodes`` and ``edges``."""
    marked_nodes = [n for p in paths for n in p.nodes] + list(nodes)
    marked_edges = {(id(a), id(b)) for p in paths for a, b in zip(p.nodes, p.nodes[1:], strict=False)}
    marked_edges.update((id(a), id(b)) for a, b in edges)
    return _Marks(frozenset(id(n) for n in marked_nodes), frozenset(marked_edges))


def _box_texts(
    root: Node, nodes: Sequence[Node], marks: _Marks, shown_grads: Mapping[Node, float | None] | None,
    show_grad: bool, digits: int,
) -> dict[Node, str]:
    """Each node's box text (:func:`node_text`), ``★``-prefixed when highlighted.

    Gradients are ``shown_grads[node]`` when given (missing: "?"), else the node's ``grad`` once
    ``backward()`` has run, else "—".
    """
    filled = _grads_filled(root)
    texts = {}
    for n in nodes:
        grad = shown_grads.get(n) if shown_grads is not None else (n.grad if filled else "—")
        text = node_text(n, grad=grad, show_grad=show_grad, digits=digits)
        texts[n] = f"{MARK} {text}" if id(n) in marks.nodes else text
    return texts


# ============================================================================ drawing
def _figure_and_axes(
    ax: Axes | None, grid: Grid, figsize: tuple[float, float] | None, max_size: tuple[float, float],
    fontsize: float, dpi: float,
) -> tuple[Figure, Axes]:
    """The given axes and their figure, or a new figure sized to the grid (at most ``max_size``)."""
    if ax is not None:
        return ax.get_figure(), ax
    if figsize is None:
        w_in = min(grid.need_w * fontsize / 72, max_size[0])
        h_in = min(grid.need_h * fontsize / 72, max_size[1])
        figsize = (max(w_in, 3.0), h_in)
    fig = new_figure(figsize=figsize, dpi=dpi)
    return fig, fig.add_axes((0.0, 0.0, 1.0, 1.0))


def _fit_axes(fig: Figure, ax: Axes, grid: Grid, fontsize: float) -> Frame:
    """Fit the grid into the axes' size in points, set the axes limits to the frame and hide the axes."""
    fig_w_in, fig_h_in = fig.get_size_inches()
    bbox = ax.get_position()
    frame = fit(grid, bbox.width * fig_w_in * 72, bbox.height * fig_h_in * 72, fontsize)
    ax.set_xlim(frame.x_lo, frame.x_hi)
    ax.set_ylim(frame.y_lo, frame.y_hi)
    ax.set_axis_off()
    return frame


def _draw_arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], on_path: bool, fs: float) -> None:
    """The shaft (dashed when highlighted) and a solid arrow head, so the head stays crisp."""
    mpl = matplotlib_classes()
    colour = _COLOUR_MARK if on_path else _COLOUR_EDGE
    lw, zorder = (2.6, 2) if on_path else (0.9, 1)
    ax.add_line(mpl.Line2D([start[0], end[0]], [start[1], end[1]], color=colour, lw=lw,
                           linestyle=_DASHED if on_path else "-", zorder=zorder))
    t = 0.93
    head_start = (start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]))
    ax.add_patch(mpl.FancyArrowPatch(head_start, end, arrowstyle="-|>", mutation_scale=fs * (1.6 if on_path else 1.1),
                                     color=colour, lw=lw, shrinkA=0, shrinkB=0, zorder=zorder))


def _draw_edges(
    ax: Axes, pos: Mapping[Node, tuple[float, float]], edges: Sequence[_DrawnEdge], marks: _Marks, grid: Grid,
    frame: Frame, edge_labels: bool, digits: int,
) -> None:
    """Every edge as an arrow, with its local derivative where the label overlaps the least.

    Highlighted edges come first, so their labels get the best places.
    """
    taken = node_keepouts(pos, grid, frame)
    fs = frame.fs
    for parent, child, local in sorted(edges, key=lambda e: (id(e[0]), id(e[1])) not in marks.edges):
        (x0, y0), (x1, y1) = pos[parent], pos[child]
        start, end = (x0 + frame.bw / 2, y0), (x1 - frame.bw / 2, y1)
        on_path = (id(parent), id(child)) in marks.edges
        _draw_arrow(ax, start, end, on_path, fs)
        if not edge_labels:
            continue
        text = _fmt(local, digits)
        half = label_half_size(text, fs)
        lx, ly = label_spot(start, end, half, taken, frame.pt_per_x, frame.pt_per_y)
        taken.append((lx * frame.pt_per_x, ly * frame.pt_per_y, *half))
        ax.text(lx, ly, text, ha="center", va="center", fontsize=fs * 0.8,
                family=MONO, color="black", fontweight="bold" if on_path else "normal", zorder=3,
                bbox={"boxstyle": "round,pad=0.12", "fc": "white", "ec": _COLOUR_MARK if on_path else "none",
                      "lw": 0.8, "alpha": 0.9})


def _fill(node: Node, root: Node, on_path: bool) -> str:
    """A box's fill: orange on a highlighted path, yellow for the loss, sky for leaves, else white."""
    if on_path:
        return FILL_MARKED
    if node is root:
        return FILL_ROOT
    return FILL_OP if node.parents else FILL_INPUT


def _draw_nodes(
    ax: Axes, root: Node, pos: Mapping[Node, tuple[float, float]], texts: Mapping[Node, str], marks: _Marks,
    frame: Frame,
) -> None:
    """A rounded box per node with its text; highlighted boxes have a thick vermillion border and bold text."""
    bw, bh, fs = frame.bw, frame.bh, frame.fs
    for n, (x, y) in pos.items():
        on_path = id(n) in marks.nodes
        ax.add_patch(matplotlib_classes().FancyBboxPatch(
            (x - bw / 2, y - bh / 2), bw, bh, boxstyle="round,pad=0,rounding_size=0.02",
            fc=_fill(n, root, on_path), ec=_COLOUR_MARK if on_path else "black", lw=2.6 if on_path else 0.8,
            zorder=4, mutation_aspect=frame.pt_per_x / frame.pt_per_y))
        ax.text(x, y, texts[n], ha="center", va="center", fontsize=fs, family=MONO, zorder=5,
                fontweight="bold" if on_path else "normal", linespacing=1.15)


def _draw_heading(ax: Axes, grid: Grid, frame: Frame, title: str | None, note: str | None) -> None:
    """The title (bold) and the note (italic, blue) centred at the top."""
    fs, middle = frame.fs, (frame.x_lo + frame.x_hi) / 2
    top = frame.y_hi - fs * grid.margin / frame.pt_per_y
    if title:
        ax.text(middle, top, title, ha="center", va="top", fontsize=fs * 1.25, fontweight="bold")
        top -= fs * 2.2 / frame.pt_per_y
    if note:
        ax.text(middle, top, note, ha="center", va="top", fontsize=fs, style="italic", color=PALETTE["blue"])


def _draw_legend(ax: Axes, fs: float, edge_labels: bool, marked: bool) -> None:
    """A one-row legend at the bottom: what the arrow numbers mean, and what highlighting looks like."""
    line = matplotlib_classes().Line2D
    handles = []
    if edge_labels:
        handles.append(line([], [], color=_COLOUR_EDGE, lw=0.9,
                            label="number on arrow = local derivative ∂child/∂parent"))
    if marked:
        handles.append(line([], [], color=_COLOUR_MARK, lw=2.6, linestyle=_DASHED,
                            label=f"{MARK} thick border / thick dashed arrow = highlighted"))
    ax.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
              fontsize=fs * 0.9, borderaxespad=0.2, handlelength=3)


# ============================================================================ the graph
def draw_graph(
    root: Node,
    *,
    ax: Axes | None = None,
    highlight_paths: Sequence[Path] | Node | None = None,
    show_grad: bool = True,
    title: str | None = None,
    highlight_nodes: Sequence[Node] = (),
    highlight_edges: Sequence[_Edge] = (),
    shown_grads: Mapping[Node, float | None] | None = None,
    include_constants: bool = False,
    edge_labels: bool = True,
    figsize: tuple[float, float] | None = None,
    max_size: tuple[float, float] = (12.0, 7.5),
    fontsize: float = 9.0,
    dpi: float = 100.0,
    digits: int = 3,
) -> Figure:
    """Draw the computation graph of ``root``: a box per node, an arrow per edge, inputs left, loss right.

    Each box shows ``label = operation``, the value and (if ``show_grad``) the gradient; each arrow is
    labelled with its local derivative ∂child/∂parent. Before ``backward()`` has run (``root.grad == 0``)
    gradients show as "—" with a note, never as misleading zeros. Boxes are placed by
    :func:`layered_layout`; the font shrinks from ``fontsize`` until the graph fits.

    Args:
        root: the node whose graph is drawn (usually the loss).
        ax: draw into these axes; by default a new figure sized to the graph (at most ``max_size``).
        highlight_paths: paths to highlight (from :func:`course_lib.paths.enumerate_paths`), or a node,
            meaning all its paths to ``root``. Their nodes get a ``★``, a thick border and an orange fill;
            their edges are thick, dashed and vermillion.
        show_grad: show the gradient line in each box.
        title: the figure title.
        highlight_nodes, highlight_edges: extra nodes / ``(parent, child)`` edges to mark the same way.
        shown_grads: override the gradients shown: ``{node: value}``; a node mapped to ``None`` or missing
            shows "grad ?" (used by the backward stepper).
        include_constants: also draw constant nodes (hidden by default).
        edge_labels: write the local derivative on each arrow.
        figsize: the figure size in inches when ``ax`` is None (default: fitted to the graph).
        max_size: the largest automatic figure size, in inches.
        fontsize: the largest font size; it shrinks if the graph would not fit.
        dpi: the new figure's resolution.
        digits: significant digits of values, gradients and local derivatives.

    Returns:
        The figure, with ``fig.alt_text`` set to :func:`describe_graph`'s text.
    """
    paths = _resolve_paths(root, highlight_paths)
    pos = layered_layout(root, include_constants=include_constants)
    marks = _marks(paths, highlight_nodes, highlight_edges)
    texts = _box_texts(root, list(pos), marks, shown_grads, show_grad, digits)
    note = _NOTE if show_grad and shown_grads is None and not _grads_filled(root) else None
    has_legend = bool(marks.nodes) or edge_labels
    grid = measure(
        pos, max(len(line) for t in texts.values() for line in t.split("\n")), 3 if show_grad else 2,
        edge_labels=edge_labels, head=(2.2 if title else 0.0) + (1.6 if note else 0.0), foot=2.0 if has_legend else 0.0,
    )
    fig, ax = _figure_and_axes(ax, grid, figsize, max_size, fontsize, dpi)
    frame = _fit_axes(fig, ax, grid, fontsize)
    _draw_edges(ax, pos, _edges(list(pos), pos), marks, grid, frame, edge_labels, digits)
    _draw_nodes(ax, root, pos, texts, marks, frame)
    _draw_heading(ax, grid, frame, title, note)
    if has_legend:
        _draw_legend(ax, frame.fs, edge_labels, bool(marks.nodes))
    fig.alt_text = describe_graph(root, paths if paths else None)
    return finish(fig)


def _path_lines(root: Node, paths: Sequence[Path], digits: int) -> list[str]:
    """Each highlighted path's product, their sum, and (paths to ``root``, after backward) the gradient."""
    lines = ["", "Highlighted paths (product of the local derivatives along each path):"]
    lines += [f"  {i}. {p.describe()}" for i, p in enumerate(paths, start=1)]
    guard.ensure_allowed("course_lib.drawing path sums")
    total = math.fsum(p.product for p in paths)
    src = paths[0].nodes[0]
    summary = f"  sum of the {len(paths)} path products = {total:.{digits}g}"
    if _grads_filled(root) and all(p.nodes[0] is src and p.nodes[-1] is root for p in paths):
        summary += f"; backward() gives grad({src.name}) = {src.grad:.{digits}g}"
    return [*lines, summary]


def describe_graph(root: Node, highlight_paths: Sequence[Path] | Node | None = None, digits: int = 6) -> str:
    """The alt text of :func:`draw_graph`: a sentence, the trace table and the highlighted paths.

    The trace table (:func:`course_lib.trace.format_trace`) lists each node's value, local derivatives and
    gradient in forward order. For highlighted paths it adds each path's product
    (:meth:`course_lib.paths.Path.describe`) and their sum Σ_paths Π_edges (local derivative), which equals
    the root's gradient with respect to the paths' source.
    """
    pos = layered_layout(root)
    nodes = list(pos)
    leaves = [n.name for n in nodes if not n.parents]
    n_layers = int(max(p[0] for p in pos.values())) + 1
    shown = ", ".join(leaves[:8]) + (f" and {len(leaves) - 8} more" if len(leaves) > 8 else "")
    lines = [
        f"Computation graph of {root.name}: {len(nodes)} nodes and {len(_edges(nodes, pos))} edges in {n_layers} "
        f"layers, from the inputs {shown} (left) to {root.name} (right). Each box shows a node's operation, value "
        "and gradient; each arrow is labelled with its local derivative ∂child/∂parent."
    ]
    if _grads_filled(root):
        lines.append(f"Gradients are d{root.name}/d(node), filled by {root.name}.backward().")
    else:
        lines.append("backward() has not run yet, so every gradient is still 0 (drawn as —).")
    paths = _resolve_paths(root, highlight_paths)
    if paths:
        lines.append(
            f"Highlighted (★, thick dashed arrows): {len(paths)} path(s) from {paths[0].nodes[0].name} to "
            f"{paths[0].nodes[-1].name}."
        )
    lines += ["", "Trace (forward order; read the grad column upwards for the backward pass):",
              format_trace(root, digits=digits)]
    if paths:
        lines += _path_lines(root, paths, digits)
    return "\n".join(lines)
