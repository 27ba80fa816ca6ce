"""Where things go: the layered layout of a graph, the size of its picture, and the edge-label spots.

Everything is deterministic: the same graph gives the same coordinates on every run. The layout never
looks at ``id()`` or at the order of a set; it uses the graph's structure and the creation order of its
nodes (relative, so two builds of the same model are laid out identically). ``id()`` appears only as a
dictionary key.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from course_lib.drawing.figures import CHAR_EM, LINE_EM
from course_lib.graph import Node, forward_order  # unguarded: see its docstring

__all__ = ["layered_layout"]

_Ids = dict[int, list[Node]]  # id(node) -> its parents or children among the drawn nodes


def visible_nodes(root: Node, include_constants: bool) -> list[Node]:
    """The nodes ``root`` depends on, in forward order; constants left out unless ``include_constants``."""
    return [n for n in forward_order(root) if include_constants or n.op != "const" or n is root]


# ============================================================================ the layered layout
def _isotonic_nonincreasing(values: list[float]) -> list[float]:
    """The non-increasing sequence closest (least squares) to ``values``: pool adjacent violators."""
    blocks: list[list[float]] = []  # [sum, count]
    for v in values:
        blocks.append([v, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] < blocks[-1][0] / blocks[-1][1]:
            s, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
    out: list[float] = []
    for s, c in blocks:
        out += [s / c] * int(c)
    return out


def _place(desired: list[float]) -> list[float]:
    """y positions for one column, top to bottom in the given order, at least 1 apart, near ``desired``.

    ``y[i] <= y[i-1] - 1`` is the same as ``u[i] = y[i] + i`` being non-increasing, so the closest
    placement is an isotonic regression of ``desired[i] + i``.
    """
    u = _isotonic_nonincreasing([d + i for i, d in enumerate(desired)])
    return [ui - i for i, ui in enumerate(u)]


def _neighbours(order: list[Node], rank: dict[int, int]) -> tuple[_Ids, _Ids]:
    """Each drawn node's drawn parents (slot order) and distinct children (forward order)."""
    parents = {id(n): [p for p in n.parents if id(p) in rank] for n in order}
    children: _Ids = {id(n): [] for n in order}
    for n in order:
        for p in parents[id(n)]:
            if n not in children[id(p)]:
                children[id(p)].append(n)
    return parents, children


def _layers(order: list[Node], parents: _Ids, children: _Ids, leaves: str) -> dict[int, int]:
    """Each node's column: longest distance from a leaf; ``leaves="near"`` moves leaves next to first use."""
    layer: dict[int, int] = {}
    for n in order:
        ps = parents[id(n)]
        layer[id(n)] = 1 + max(layer[id(p)] for p in ps) if ps else 0
    if leaves == "near":
        for n in order:
            if not parents[id(n)] and children[id(n)]:
                layer[id(n)] = min(layer[id(c)] for c in children[id(n)]) - 1
    return layer


def _centred(count: int) -> list[float]:
    """``count`` heights 1 apart, centred on 0, top first."""
    return [(count - 1) / 2 - i for i in range(count)]


def _ordered_heights(columns: list[list[Node]], children: _Ids, rank: dict[int, int]) -> dict[int, float]:
    """Centre each column, then sort it by its children's mean height, from the loss back to the inputs.

    Sorts ``columns`` in place; ties keep creation order (``rank``).
    """
    y: dict[int, float] = {}
    for col in columns:
        for n, yy in zip(col, _centred(len(col)), strict=True):
            y[id(n)] = yy
    for k in range(len(columns) - 2, -1, -1):
        col = columns[k]
        col.sort(key=lambda n: (-sum(y[id(c)] for c in children[id(n)]) / max(len(children[id(n)]), 1), rank[id(n)]))
        for n, yy in zip(col, _centred(len(col)), strict=True):
            y[id(n)] = yy
    return y


def _straighten(columns: list[list[Node]], parents: _Ids, children: _Ids, y: dict[int, float], sweeps: int) -> None:
    """Move nodes towards their neighbours' mean height, keeping order and spacing (``sweeps`` there and back)."""
    n_layers = len(columns)
    for sweep in range(2 * sweeps):
        ks = range(n_layers) if sweep % 2 == 0 else range(n_layers - 1, -1, -1)
        for k in ks:
            col = columns[k]
            desired = []
            for n in col:
                nbrs = parents[id(n)] + children[id(n)]
                desired.append(sum(y[id(m)] for m in nbrs) / len(nbrs) if nbrs else y[id(n)])
            for n, yy in zip(col, _place(desired), strict=True):
                y[id(n)] = yy


def layered_layout(
    root: Node, *, include_constants: bool = False, leaves: str = "near", sweeps: int = 3
) -> dict[Node, tuple[float, float]]:
    """Deterministic layered coordinates ``{node: (x, y)}`` for every node ``root`` depends on.

    * ``x`` is the node's layer. An operation's layer is its longest distance from a leaf, so every edge
      goes from left to right and the root (the loss) is alone in the rightmost layer. Leaves (inputs and
      parameters) sit one layer before their first use (``leaves="near"``, so ``w2`` stands next to the
      ``h1`` it multiplies) or all in layer 0 (``leaves="left"``).
    * ``y`` orders the nodes of a layer, top to bottom, by the mean height of their children (so each
      weight sits next to the unit it feeds), ties broken by creation order; then a few sweeps move each
      node towards the mean height of its neighbours, keeping the order and a spacing of at least 1.

    Keys are the :class:`Node` objects themselves. Constant nodes (``op == "const"``) are left out unless
    ``include_constants``. Nothing depends on ``id()`` or on set order: the same graph built twice gets
    identical coordinates.
    """
    if leaves not in ("near", "left"):
        raise ValueError(f"leaves must be 'near' or 'left', got {leaves!r}")
    order = visible_nodes(root, include_constants)
    rank = {id(n): i for i, n in enumerate(order)}  # id() only as a dict key; order comes from `order`
    parents, children = _neighbours(order, rank)
    layer = _layers(order, parents, children, leaves)
    columns: list[list[Node]] = [[] for _ in range(max(layer.values()) + 1)]
    for n in order:
        columns[layer[id(n)]].append(n)
    y = _ordered_heights(columns, children, rank)
    _straighten(columns, parents, children, y, sweeps)
    top = max(y.values())
    return {n: (float(layer[id(n)]), round(y[id(n)] - top, 9) + 0.0) for n in order}


# ============================================================================ the picture's size
@dataclass(frozen=True)
class Grid:
    """The graph picture measured in font sizes (em), before the font size is known.

    Node boxes are ``box_w × box_h`` em; columns are ``col_gap`` apart (room for edge labels), rows
    ``row_gap``; ``head`` em above for the title and note, ``foot`` em below for the legend, ``margin``
    all round.
    """

    n_cols: int
    y_top: float  # the layout's highest and lowest y (layout rows)
    y_bottom: float
    box_w: float
    box_h: float
    col_gap: float
    head: float
    foot: float
    row_gap: float = 0.6
    margin: float = 0.6

    @property
    def y_span(self) -> float:
        """Layout rows from the top node to the bottom node."""
        return self.y_top - self.y_bottom

    @property
    def need_w(self) -> float:
        """Width needed, em: ``n_cols·box_w + (n_cols − 1)·col_gap + 2·margin``."""
        return self.n_cols * self.box_w + (self.n_cols - 1) * self.col_gap + 2 * self.margin

    @property
    def need_h(self) -> float:
        """Height needed, em: ``box_h + y_span·(box_h + row_gap) + 2·margin + head + foot``."""
        return self.box_h + self.y_span * (self.box_h + self.row_gap) + 2 * self.margin + self.head + self.foot


def measure(
    pos: dict[Node, tuple[float, float]], n_chars: int, n_lines: int, *, edge_labels: bool, head: float, foot: float
) -> Grid:
    """The :class:`Grid` of a layout whose boxes hold ``n_lines`` lines of at most ``n_chars`` characters."""
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    return Grid(
        n_cols=int(max(xs)) + 1, y_top=max(ys), y_bottom=min(ys), box_w=n_chars * CHAR_EM + 1.2,
        box_h=n_lines * LINE_EM + 0.9, col_gap=4.6 if edge_labels else 2.5, head=head, foot=foot,
    )


@dataclass(frozen=True)
class Frame:
    """The grid fitted into axes: font size ``fs`` (points), points per layer / row, box size and limits.

    Data units are x = layer and y = layout row; one layer is ``pt_per_x`` points and one row
    ``pt_per_y``. ``bw``, ``bh`` are a box's size in data units.
    """

    fs: float
    pt_per_x: float
    pt_per_y: float
    bw: float
    bh: float
    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float


def fit(grid: Grid, ax_w_pt: float, ax_h_pt: float, fontsize: float) -> Frame:
    """Fit ``grid`` into axes of ``ax_w_pt × ax_h_pt`` points, with a font of at most ``fontsize``.

    The font shrinks to ``min(fontsize, ax_w_pt / need_w, ax_h_pt / need_h)``; spare room is shared
    equally on both sides.
    """
    g = grid
    fs = min(fontsize, ax_w_pt / g.need_w, ax_h_pt / g.need_h)
    content_w = fs * (g.box_w + 2 * g.margin)
    content_h = fs * (g.box_h + 2 * g.margin + g.head + g.foot)
    pt_per_x = (ax_w_pt - content_w) / (g.n_cols - 1) if g.n_cols > 1 else fs * (g.box_w + g.col_gap)
    pt_per_y = (ax_h_pt - content_h) / g.y_span if g.y_span else fs * (g.box_h + g.row_gap)
    spare_x = max(ax_w_pt - content_w - (g.n_cols - 1) * pt_per_x, 0.0) / 2
    spare_y = max(ax_h_pt - content_h - g.y_span * pt_per_y, 0.0) / 2
    return Frame(
        fs=fs, pt_per_x=pt_per_x, pt_per_y=pt_per_y,
        bw=fs * g.box_w / pt_per_x, bh=fs * g.box_h / pt_per_y,
        x_lo=-(fs * (g.box_w / 2 + g.margin) + spare_x) / pt_per_x,
        x_hi=(g.n_cols - 1) + (fs * (g.box_w / 2 + g.margin) + spare_x) / pt_per_x,
        y_lo=g.y_bottom - (fs * (g.box_h / 2 + g.margin + g.foot) + spare_y) / pt_per_y,
        y_hi=g.y_top + (fs * (g.box_h / 2 + g.margin + g.head) + spare_y) / pt_per_y,
    )


# ============================================================================ edge labels
_LABEL_SPOTS = (0.3, 0.5, 0.2, 0.4, 0.6, 0.7, 0.12, 0.8)

Box = tuple[float, float, float, float]  # (x, y, half width, half height), in points


def node_keepouts(pos: dict[Node, tuple[float, float]], grid: Grid, frame: Frame) -> list[Box]:
    """The node boxes, a little enlarged, as places edge labels must avoid."""
    fs = frame.fs
    return [
        (x * frame.pt_per_x, y * frame.pt_per_y, fs * (grid.box_w / 2 + 0.3), fs * (grid.box_h / 2 + 0.2))
        for x, y in pos.values()
    ]


def label_half_size(text: str, fs: float) -> tuple[float, float]:
    """Half the width and height, in points, of an edge label in a font of ``0.8·fs``."""
    return (fs * 0.8 * (len(text) * CHAR_EM + 0.5) / 2, fs * 0.8 * 1.5 / 2)


def label_spot(
    start: tuple[float, float],
    end: tuple[float, float],
    half: tuple[float, float],
    taken: Sequence[Box],
    pt_per_x: float,
    pt_per_y: float,
) -> tuple[float, float]:
    """The first place along the edge where its label overlaps nothing placed yet (else the least overlap).

    Candidates are fixed fractions of the edge, tried in a fixed order, so placement is deterministic.
    """
    best, best_overlap = None, math.inf
    for f in _LABEL_SPOTS:
        x, y = start[0] + f * (end[0] - start[0]), start[1] + f * (end[1] - start[1])
        px, py = x * pt_per_x, y * pt_per_y
        overlap = 0.0
        for qx, qy, hw, hh in taken:
            ox = min(px + half[0], qx + hw) - max(px - half[0], qx - hw)
            oy = min(py + half[1], qy + hh) - max(py - half[1], qy - hh)
            if ox > 0 and oy > 0:
                overlap += ox * oy
        if overlap == 0.0:
            return x, y
        if overlap < best_overlap:
            best, best_overlap = (x, y), overlap
    assert best is not None
    return best
