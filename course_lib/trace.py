"""A table of the computation: each node's value, local derivatives and gradient, in forward order.

Read top to bottom it is the forward pass; read bottom to top (the gradient column) it is the backward
pass. It doubles as the text alternative for every graph drawing.
"""

from __future__ import annotations

from dataclasses import dataclass

from course_lib.graph import Node, forward_order  # unguarded: see its docstring

__all__ = ["TraceRow", "format_trace", "trace"]


@dataclass(frozen=True)
class TraceRow:
    """One node of the graph as plain data."""

    label: str
    op: str
    value: float
    inputs: tuple[str, ...]
    local_grads: tuple[float, ...]
    grad: float

    def as_dict(self) -> dict[str, object]:
        """The row as a plain dict (for pandas, JSON or a widget)."""
        return {
            "label": self.label,
            "op": self.op,
            "value": self.value,
            "inputs": list(self.inputs),
            "local_grads": list(self.local_grads),
            "grad": self.grad,
        }


def trace(root: Node, include_constants: bool = False) -> list[TraceRow]:
    """The rows of every node ``root`` depends on, in forward (topological) order.

    ``grad`` is the value left by the last ``root.backward()`` (0.0 if it has not run). An unlabelled node
    is named by its operation and its position in the table (``exp#3``), so the same computation always
    gives the same table.
    """
    order = forward_order(root)
    names = {id(n): n.label or (n.name if n.op == "const" else f"{n.op}#{i}") for i, n in enumerate(order)}
    return [
        TraceRow(names[id(n)], n.op, n.value, tuple(names[id(p)] for p in n.parents), n.local_grads, n.grad)
        for n in order
        if include_constants or n.op != "const"
    ]


#: ops whose name would read as a formula in another variable (a ``1/x`` step whose input is ``h2``)
_OP_NAMES = {"1/x": "reciprocal"}


def format_trace(root: Node, digits: int = 6, include_constants: bool = False) -> str:
    """:func:`trace` as an aligned plain-text table.

    Columns: node, op, inputs, value, local derivatives d(node)/d(input) in input order, grad.
    """
    rows = trace(root, include_constants)
    header = ("node", "op", "inputs", "value", "local d/d(input)", "grad")
    body = [
        (
            r.label,
            _OP_NAMES.get(r.op, r.op),
            ", ".join(r.inputs) or "-",
            f"{r.value:.{digits}g}",
            ", ".join(f"{g:.{digits}g}" for g in r.local_grads) or "-",
            f"{r.grad:.{digits}g}",
        )
        for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *body, strict=True)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
