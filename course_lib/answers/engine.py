"""The chain rule's engine: a topological order of a graph and the reverse sweep (Exercises 5.1 and 5.2)."""

from __future__ import annotations

from typing import Any

__all__ = ["backward", "topological_order"]


def topological_order(root: Any) -> list[Any]:
    """All nodes ``root`` depends on, parents before children, ``root`` last.

    A depth-first search over each node's ordered ``parents`` (iterative, so deep graphs do not hit the
    recursion limit), listed in creation order (``serial``) when that order is valid, else in DFS
    post-order. Raises :class:`course_lib.graph.GraphCycleError` on a cycle.
    """
    from course_lib.graph import GraphCycleError

    order: list[Any] = []
    state: dict[int, int] = {}  # id -> 1 while on the DFS stack, 2 when finished (membership only)
    stack: list[tuple[Any, int]] = [(root, 0)]
    state[id(root)] = 1
    while stack:
        node, i = stack.pop()
        if i < len(node.parents):
            stack.append((node, i + 1))
            parent = node.parents[i]
            seen = state.get(id(parent))
            if seen == 1:
                cycle = [n.name for n, _ in stack] + [parent.name]
                raise GraphCycleError(
                    "the graph has a cycle (" + " -> ".join(cycle) + "): a node cannot depend on "
                    "itself, so backpropagation has no order to follow. Build each node from nodes "
                    "created before it instead of editing .parents."
                )
            if seen is None:
                state[id(parent)] = 1
                stack.append((parent, 0))
        else:
            state[id(node)] = 2
            order.append(node)
    by_creation = sorted(order, key=lambda n: n.serial)
    position = {id(n): i for i, n in enumerate(by_creation)}
    if all(position[id(p)] < position[id(n)] for n in by_creation for p in n.parents):
        return by_creation
    return order  # parents were edited to point at later nodes: the DFS post-order is still valid


def backward(root: Any) -> None:
    """Reset every gradient ``root`` depends on, then ``grad(parent) += grad(child) · local`` in reverse order."""
    order = topological_order(root)
    for node in order:
        node.grad = 0.0
    root.grad = 1.0
    for node in reversed(order):
        for parent, local in zip(node.parents, node.local_grads, strict=True):
            parent.grad += node.grad * local
