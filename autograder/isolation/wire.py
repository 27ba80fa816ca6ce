"""Plain data across a process boundary: the only thing a student's process can hand to the grader.

Length-prefixed JSON frames. Values are restricted to data — None, bool, int, float (NaN and ±inf
included), complex, str, lists, tuples, dicts and numeric numpy arrays and scalars — so decoding can never
run code (unlike pickle). Callables in arguments travel as handles the other side calls back.
"""

from __future__ import annotations

import json
import math
import os
import struct
from typing import Any

import numpy as np

__all__ = ["DECODE_DEPTH", "MAX_DEPTH", "MAX_FRAME", "GraphCodec", "WireError", "count_numbers", "decode", "encode",
           "read_frame", "write_frame"]

MAX_FRAME = 64 * 1024 * 1024  # a frame larger than this is refused, not buffered
MAX_DEPTH = 50  # encode refuses deeper values
DECODE_DEPTH = 40  # decode is stricter: whatever decodes can be encoded again, even inside an argument list
_NUMERIC_KINDS = "biufc"


class WireError(ValueError):
    """A value that cannot cross the boundary, or a malformed frame."""


def encode(value: Any, callables: dict[int, Any] | None = None, depth: int = 0,
           graph: GraphCodec | None = None) -> Any:
    """``value`` as JSON-ready data. Callables are registered in ``callables`` and sent as handles; graph
    nodes (``graph``, :class:`GraphCodec`) as references to node definitions sent with the message."""
    if depth > MAX_DEPTH:
        raise WireError(f"the value is nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float | np.floating):
        v = float(value)
        return v if math.isfinite(v) else {"__float__": repr(v)}
    if isinstance(value, complex | np.complexfloating):
        return {"__complex__": [encode(value.real), encode(value.imag)]}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _NUMERIC_KINDS:
            raise WireError(f"a numpy array of dtype {value.dtype} (only numeric arrays can be checked)")
        flat = [encode(v) for v in value.ravel().tolist()]
        return {"__ndarray__": flat, "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, list):
        return [encode(v, callables, depth + 1, graph) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, callables, depth + 1, graph) for v in value]}
    if isinstance(value, dict):
        return {"__dict__": [[encode(k, callables, depth + 1, graph), encode(v, callables, depth + 1, graph)]
                             for k, v in value.items()]}
    if graph is not None and graph.is_node(value):
        return graph.ref(value)
    if callable(value) and callables is not None:
        handle = id(value)
        callables[handle] = value
        return {"__callable__": handle, "name": getattr(value, "__name__", "function")}
    raise WireError(f"a {type(value).__name__} object (only numbers, strings, lists, tuples, dicts and numeric "
                    "numpy arrays can be checked)")


def _number(data: Any, what: str) -> int | float:
    if isinstance(data, bool) or not isinstance(data, int | float):
        if isinstance(data, dict) and set(data) == {"__float__"}:
            return decode(data)
        raise WireError(f"malformed {what}")
    return data


def _decode_array(data: dict) -> Any:
    """A numeric numpy array from its tagged form (see :func:`encode`)."""
    if not isinstance(data["dtype"], str) or not isinstance(data["shape"], list):
        raise WireError("malformed array")
    try:
        dtype = np.dtype(data["dtype"])
    except TypeError:
        raise WireError("malformed array dtype") from None
    if dtype.kind not in _NUMERIC_KINDS:
        raise WireError("malformed array dtype")
    shape = data["shape"]
    if len(shape) > 32 or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise WireError("malformed array shape")
    flat = data["__ndarray__"]
    if not isinstance(flat, list):
        raise WireError("malformed array")
    values = [complex(_number(v["__complex__"][0], "array"), _number(v["__complex__"][1], "array"))
              if isinstance(v, dict) and set(v) == {"__complex__"} and isinstance(v["__complex__"], list)
              and len(v["__complex__"]) == 2 else _number(v, "array entry") for v in flat]
    if math.prod(shape) != len(values):
        raise WireError("array shape does not match its data")
    try:
        return np.array(values, dtype=dtype).reshape(shape)
    except (TypeError, ValueError, OverflowError):
        raise WireError("malformed array data") from None


def decode(data: Any, make_callable: Any = None, depth: int = 0, graph: GraphCodec | None = None) -> Any:
    """The inverse of :func:`encode`; ``make_callable(handle, name)`` builds a stand-in for a handle.

    Stricter than :func:`encode`: only exactly what ``encode`` writes is accepted (the exact keys of each
    tagged form, numbers where numbers belong) and values nest at most ``DECODE_DEPTH`` levels, fewer than
    ``encode`` allows, so a decoded value can always be encoded again (passed back to the other side as an
    argument) and a check never becomes unverifiable because of what one side sent.
    """
    if depth > DECODE_DEPTH:
        raise WireError(f"the value is nested more than {DECODE_DEPTH} levels deep")
    if data is None or isinstance(data, bool | int | float | str):
        return data
    if isinstance(data, list):
        return [decode(v, make_callable, depth + 1, graph) for v in data]
    if not isinstance(data, dict):
        raise WireError(f"malformed value of type {type(data).__name__}")
    keys = set(data)
    if keys == {"__node__"} and graph is not None:
        return graph.get(data["__node__"])
    if keys == {"__float__"}:
        text = data["__float__"]
        if text not in ("nan", "inf", "-inf"):
            raise WireError("malformed float")
        return float(text)
    if keys == {"__complex__"}:
        parts = data["__complex__"]
        if not isinstance(parts, list) or len(parts) != 2:
            raise WireError("malformed complex number")
        return complex(_number(parts[0], "complex number"), _number(parts[1], "complex number"))
    if keys == {"__ndarray__", "dtype", "shape"}:
        return _decode_array(data)
    if keys == {"__tuple__"} and isinstance(data["__tuple__"], list):
        return tuple(decode(v, make_callable, depth + 1, graph) for v in data["__tuple__"])
    if keys == {"__dict__"} and isinstance(data["__dict__"], list):
        out = {}
        for pair in data["__dict__"]:
            if not isinstance(pair, list) or len(pair) != 2:
                raise WireError("malformed dict entry")
            key = decode(pair[0], None, depth + 1)
            if isinstance(key, list | dict | np.ndarray):
                raise WireError("malformed dict key")
            try:
                out[key] = decode(pair[1], make_callable, depth + 1, graph)
            except TypeError:  # an unhashable key nested in a tuple
                raise WireError("malformed dict key") from None
        return out
    if keys == {"__callable__", "name"} and make_callable is not None and isinstance(data["__callable__"], int):
        return make_callable(int(data["__callable__"]), str(data.get("name", "function")))
    raise WireError("malformed value")


def write_frame(fd: int, message: dict) -> None:
    """Send one JSON message on file descriptor ``fd``."""
    body = json.dumps(message, allow_nan=False).encode()
    if len(body) > MAX_FRAME:
        raise WireError(f"a message of {len(body)} bytes is larger than the limit of {MAX_FRAME}")
    payload = struct.pack(">Q", len(body)) + body
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exact(fd: int, n: int) -> bytes:
    chunks, remaining = [], n
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, limit: int = MAX_FRAME) -> dict:
    """Receive one JSON message from file descriptor ``fd`` (blocking); one larger than ``limit`` is refused."""
    (size,) = struct.unpack(">Q", _read_exact(fd, 8))
    if size > min(limit, MAX_FRAME):
        raise WireError(f"a message of {size} bytes is larger than the limit of {min(limit, MAX_FRAME)}")
    try:
        message = json.loads(_read_exact(fd, size))
    except ValueError as exc:
        raise WireError(f"a message that is not JSON ({exc})") from None
    if not isinstance(message, dict):
        raise WireError("a message that is not a JSON object")
    return message


def count_numbers(data: Any, limit: int) -> int:
    """How many numbers, strings and graph nodes the *encoded* ``data`` holds, counting stops past ``limit``."""
    count, stack = 0, [data]
    while stack and count <= limit:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        else:
            count += 1
    return count


def _float(value: Any) -> Any:
    v = float(value)
    return v if math.isfinite(v) else {"__float__": repr(v)}


def _text(value: Any) -> str:
    return value[:200] if isinstance(value, str) else ""


class GraphCodec:
    """Nodes of a computation graph crossing the boundary as data, for the length of one call.

    A node is an instance of the notebook's node class (05's ``Value``): ``data`` and ``grad`` (numbers, which
    either side may change), ``parents`` (an ordered tuple of nodes) and ``local`` (numbers), ``op`` and
    ``label`` (text). Each node is defined once, parents before children (so a graph received is always
    acyclic), and sent as ``{"__node__": id}``; ids of the two sides never collide (``side`` 0 even, 1 odd).
    Every message of the call carries the new definitions and the current ``data``/``grad`` of every node
    both sides know (:meth:`section`, :meth:`absorb`), so a ``backward`` that fills in gradients on one side
    is seen on the other, and a returned node *is* the object that was sent (identity kept).
    """

    def __init__(self, node_class: type, side: int, max_nodes: int = 200_000) -> None:
        self.node_class, self.side, self.max_nodes = node_class, side, max_nodes
        self.objects: dict[int, Any] = {}
        self.ids: dict[int, int] = {}
        self.pending: list[list] = []
        self.next = side

    def is_node(self, value: Any) -> bool:
        return isinstance(value, self.node_class)

    def _register(self, node: Any) -> int:
        if len(self.objects) >= self.max_nodes:
            raise WireError(f"a graph of more than {self.max_nodes} nodes")
        key, self.next = self.next, self.next + 2
        self.objects[key], self.ids[id(node)] = node, key
        return key

    def ref(self, node: Any) -> dict:
        """``node`` as a reference; it and its unknown ancestors are defined in the next :meth:`section`."""
        if id(node) not in self.ids:
            stack, path = [(node, False)], set()  # path: the nodes being expanded (a cycle meets one again)
            while stack:
                item, expanded = stack.pop()
                if id(item) in self.ids:
                    continue
                parents = tuple(getattr(item, "parents", ()))
                if not expanded:
                    if id(item) in path:
                        raise WireError("a graph with a cycle (a node is its own ancestor)")
                    path.add(id(item))
                    stack.append((item, True))
                    for parent in reversed(parents):
                        if not self.is_node(parent):
                            raise WireError(f"a graph node whose parent is a {type(parent).__name__}")
                        if id(parent) not in self.ids:
                            stack.append((parent, False))
                    continue
                path.discard(id(item))
                key = self._register(item)
                self.pending.append([key, [self.ids[id(p)] for p in parents],
                                     [_float(d) for d in getattr(item, "local", ())],
                                     _text(getattr(item, "op", "")), _text(getattr(item, "label", ""))])
        return {"__node__": self.ids[id(node)]}

    def get(self, key: Any) -> Any:
        if isinstance(key, bool) or not isinstance(key, int) or key not in self.objects:
            raise WireError("a reference to an unknown graph node")
        return self.objects[key]

    def section(self) -> dict:
        """The new definitions and every known node's ``data`` and ``grad``, to send with a message."""
        defs, self.pending = self.pending, []
        state = [[key, _float(node.data), _float(node.grad)] for key, node in self.objects.items()]
        return {"defs": defs, "state": state}

    def absorb(self, section: Any) -> None:
        """Apply a received :meth:`section`: build the other side's new nodes, then update every node."""
        if not isinstance(section, dict) or set(section) != {"defs", "state"}:
            raise WireError("malformed graph section")
        defs, state = section["defs"], section["state"]
        if not isinstance(defs, list) or not isinstance(state, list):
            raise WireError("malformed graph section")
        for entry in defs:
            if not (isinstance(entry, list) and len(entry) == 5 and isinstance(entry[0], int)
                    and not isinstance(entry[0], bool) and entry[0] % 2 != self.side and entry[0] not in self.objects
                    and isinstance(entry[1], list) and isinstance(entry[2], list) and len(entry[2]) <= 10_000):
                raise WireError("malformed graph node")
            if len(self.objects) >= self.max_nodes:
                raise WireError(f"a graph of more than {self.max_nodes} nodes")
            node: Any = object.__new__(self.node_class)
            node.data, node.grad = 0.0, 0.0
            node.parents = tuple(self.get(p) for p in entry[1])
            node.local = tuple(float(_number(d, "local derivative")) for d in entry[2])
            node.op, node.label = _text(entry[3]), _text(entry[4])
            self.objects[entry[0]], self.ids[id(node)] = node, entry[0]
        for entry in state:
            if not (isinstance(entry, list) and len(entry) == 3):
                raise WireError("malformed graph state")
            node = self.get(entry[0])
            node.data, node.grad = float(_number(entry[1], "node value")), float(_number(entry[2], "gradient"))
