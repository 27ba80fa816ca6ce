"""Every path from one node to another, and why backpropagation beats enumerating them.

The chain rule across several paths (the notes' $\\partial L/\\partial w_{131}$): the derivative of the
target with respect to the source is the **sum over paths** of the **product of local derivatives** along
each path. :func:`enumerate_paths` lists the paths; :func:`path_sum` adds their products, which equals the
``grad`` that :meth:`course_lib.graph.Node.backward` computes. :func:`path_cost` counts the work of both
ways without enumerating anything, so it works for graphs with astronomically many paths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from course_lib import guard
from course_lib.graph import Node, topological_order

__all__ = ["NotConnectedError", "Path", "PathCost", "count_paths", "enumerate_paths", "path_cost", "path_sum"]


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
    order = topological_order(target)
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
    order = topological_order(target)
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
