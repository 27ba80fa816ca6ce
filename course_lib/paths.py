"""Every path from one node to another, and why backpropagation beats enumerating them.

The chain rule across several paths (the notes' $\\partial L/\\partial w_{131}$): the derivative of the
target with respect to the source is the **sum over paths** of the **product of local derivatives** along
each path. :func:`enumerate_paths` lists the paths; :func:`path_sum` adds their products, which equals the
``grad`` that :meth:`course_lib.graph.Node.backward` computes. :func:`path_cost` counts the work of both
ways without enumerating anything, so it works for graphs with astronomically many paths.
:func:`chain_path_cost`, :func:`path_cost_rows` and :func:`path_cost_table` apply it to a deep fully
connected network (:func:`course_lib.models.layered_chain`): paths grow like ``width^depth``, one backward
pass linearly in depth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from course_lib import guard
from course_lib.graph import Node, forward_order  # unguarded: see its docstring
from course_lib.models import layered_chain

__all__ = [
    "NotConnectedError",
    "Path",
    "PathCost",
    "chain_path_cost",
    "count_paths",
    "enumerate_paths",
    "path_cost",
    "path_cost_rows",
    "path_cost_table",
    "path_sum",
]


class NotConnectedError(ValueError):
    """The source does not reach the target: no path connects them."""


@dataclass(frozen=True)
class Path:
    """One path ``nodes[0] -> ... -> nodes[-1]`` and the local derivative on each of its edges."""

    nodes: tuple[Node, ...]
    factors: tuple[float, ...]  # factors[i] = d nodes[i+1] / d nodes[i]

    @property
    def product(self) -> float:
        """The product of the local derivatives along the path."""
        return math.prod(self.factors)

    def describe(self, digits: int = 4) -> str:
        """One line: ``w_131 → a_13 → … → L   0.2 × 0.25 × … = 0.0012``."""
        names = " → ".join(n.name for n in self.nodes)
        factors = " × ".join(f"{f:.{digits}g}" for f in self.factors)
        return f"{names}   {factors} = {self.product:.{digits}g}"


@dataclass(frozen=True)
class PathCost:
    """Multiplications and additions needed for d(target)/d(source) by two methods.

    Enumerating paths costs ``len(path) - 1`` multiplications per path plus ``n_paths - 1`` additions.
    One backward pass costs one multiplication and one addition per edge of the graph, and yields the
    gradient with respect to *every* node at once.
    """

    n_paths: int
    path_multiplications: int
    path_additions: int
    backward_multiplications: int
    backward_additions: int


def _check_reaches(source: Node, target: Node, order: list[Node]) -> set[int]:
    """ids of nodes on some path source -> target (excluding nothing); raise if none."""
    downstream = {id(source)}
    for node in order:
        if any(id(p) in downstream for p in node.parents):
            downstream.add(id(node))
    if id(source) not in {id(n) for n in order} or id(target) not in downstream:
        raise NotConnectedError(
            f"{source.name} does not reach {target.name}: no path connects them, so "
            f"d{target.name}/d{source.name} = 0. Check that {target.name} was computed from {source.name}."
        )
    return downstream


def enumerate_paths(source: Node, target: Node, limit: int = 100_000) -> list[Path]:
    """List every path from ``source`` to ``target``, in a deterministic order.

    An edge used twice (``x * x`` has two edges from ``x``) gives two distinct paths.

    Raises:
        NotConnectedError: if ``source`` does not reach ``target``.
        ValueError: if there are more than ``limit`` paths (use :func:`path_cost` to count them).
    """
    order = forward_order(target)
    downstream = _check_reaches(source, target, order)
    n = count_paths(source, target)
    if n > limit:
        raise ValueError(f"{n} paths from {source.name} to {target.name}: more than limit={limit}")
    # children edges restricted to nodes downstream of the source, in parent-slot order
    children: dict[int, list[tuple[Node, float]]] = {}
    for node in order:
        if id(node) not in downstream:
            continue
        for parent, local in zip(node.parents, node.local_grads, strict=True):
            if id(parent) in downstream:
                children.setdefault(id(parent), []).append((node, local))
    paths: list[Path] = []
    stack: list[tuple[tuple[Node, ...], tuple[float, ...]]] = [((source,), ())]
    while stack:
        nodes, factors = stack.pop()
        last = nodes[-1]
        if last is target:
            paths.append(Path(nodes, factors))
            continue
        for child, local in reversed(children.get(id(last), [])):
            stack.append((nodes + (child,), factors + (local,)))
    return paths


def path_sum(source: Node, target: Node) -> float:
    """$\\sum_{\\text{paths}} \\prod_{\\text{edges}} \\text{local derivative}$ = d(target)/d(source)."""
    guard.ensure_allowed("course_lib.paths.path_sum()")
    return math.fsum(p.product for p in enumerate_paths(source, target))


def count_paths(source: Node, target: Node) -> int:
    """The number of paths from ``source`` to ``target``, by dynamic programming (no enumeration)."""
    return path_cost(source, target).n_paths


def path_cost(source: Node, target: Node) -> PathCost:
    """Count the work of path enumeration versus one backward pass, without enumerating paths.

    ``count[n]`` (paths from source to n) and ``edges[n]`` (total edges over those paths) follow the
    recurrences ``count[n] = Σ_parents count[p]`` and ``edges[n] = Σ_parents (edges[p] + count[p])``.

    Raises:
        NotConnectedError: if ``source`` does not reach ``target``.
    """
    order = forward_order(target)
    _check_reaches(source, target, order)
    count: dict[int, int] = {id(source): 1}
    edges: dict[int, int] = {id(source): 0}
    n_edges = 0
    for node in order:
        n_edges += len(node.parents)
        if node is source:
            continue
        c = e = 0
        for parent in node.parents:
            cp = count.get(id(parent), 0)
            c += cp
            e += edges.get(id(parent), 0) + cp
        if c:
            count[id(node)], edges[id(node)] = c, e
    n_paths, total_edges = count[id(target)], edges[id(target)]
    return PathCost(
        n_paths=n_paths,
        path_multiplications=total_edges - n_paths,
        path_additions=n_paths - 1,
        backward_multiplications=n_edges,
        backward_additions=n_edges,
    )


# --------------------------------------------------------------------------- a deep network: paths vs backprop
def chain_path_cost(depth: int, width: int) -> PathCost:
    """:func:`path_cost` from ``w_111`` to ``L`` in :func:`~course_lib.models.layered_chain`, in closed form.

    Every path is ``w_111 → a_11 → h_11``, then ``→ a_li → h_li`` through one of ``width`` units in each
    of the ``depth − 1`` later layers, then ``→ L``: ``width^(depth−1)`` paths of ``2·depth + 1`` edges,
    so ``2·depth`` multiplications each. One backward pass multiplies once per edge of the whole graph:
    ``width²`` into layer 1, ``2·width²`` into each later layer (weights and previous units), ``width``
    sigmoids per layer and ``width`` edges into ``L``. A test checks this against ``path_cost``.
    """
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be at least 1, got depth={depth}, width={width}")
    n_paths = width ** (depth - 1)
    n_edges = width * width + (depth - 1) * 2 * width * width + depth * width + width
    return PathCost(
        n_paths=n_paths,
        path_multiplications=n_paths * 2 * depth,
        path_additions=n_paths - 1,
        backward_multiplications=n_edges,
        backward_additions=n_edges,
    )


_BUILD_LIMIT = 20_000  # build graphs up to this many weights; beyond, use the closed form


def path_cost_rows(depths: Sequence[int], width: int) -> list[dict[str, int]]:
    """For each depth, the work to get dL/dw_111 in :func:`~course_lib.models.layered_chain` by both methods.

    Each row: ``depth``, ``paths`` (number of paths from ``w_111`` to ``L``), ``path_mults`` (multiplications
    to enumerate them: one per edge after the first, on every path), ``backward_mults`` (one per edge of the
    graph, for *all* gradients at once). Small graphs are built and counted with
    :func:`path_cost`; very large ones use :func:`chain_path_cost` (the same numbers).
    """
    rows = []
    for depth in depths:
        if depth * width * width <= _BUILD_LIMIT:
            g = layered_chain(depth, width)
            cost = path_cost(g["w_111"], g["L"])
        else:
            cost = chain_path_cost(depth, width)
        rows.append({"depth": int(depth), "paths": cost.n_paths, "path_mults": cost.path_multiplications,
                     "backward_mults": cost.backward_multiplications})
    return rows


def path_cost_table(depths: Sequence[int], width: int) -> str:
    """:func:`path_cost_rows` as an aligned text table (the alt text of :func:`course_lib.drawing.draw_path_cost`)."""
    rows = path_cost_rows(depths, width)
    header = ("depth", "paths w_111→L", "× enumerating paths", "× one backward pass", "ratio")
    body = [
        (str(r["depth"]), f"{r['paths']:,}", f"{r['path_mults']:,}", f"{r['backward_mults']:,}",
         f"{r['path_mults'] / r['backward_mults']:.3g}")
        for r in rows
    ]
    widths = [max(len(c) for c in col) for col in zip(header, *body, strict=True)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
