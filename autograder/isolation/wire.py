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

__all__ = ["MAX_FRAME", "WireError", "decode", "encode", "read_frame", "write_frame"]

MAX_FRAME = 64 * 1024 * 1024  # a frame larger than this is refused, not buffered
_NUMERIC_KINDS = "biufc"


class WireError(ValueError):
    """A value that cannot cross the boundary, or a malformed frame."""


def encode(value: Any, callables: dict[int, Any] | None = None, depth: int = 0) -> Any:
    """``value`` as JSON-ready data. Callables are registered in ``callables`` and sent as handles."""
    if depth > 50:
        raise WireError("the value is nested more than 50 levels deep")
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
        return [encode(v, callables, depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, callables, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"__dict__": [[encode(k, callables, depth + 1), encode(v, callables, depth + 1)]
                             for k, v in value.items()]}
    if callable(value) and callables is not None:
        handle = id(value)
        callables[handle] = value
        return {"__callable__": handle, "name": getattr(value, "__name__", "function")}
    raise WireError(f"a {type(value).__name__} object (only numbers, strings, lists, tuples, dicts and numeric "
                    "numpy arrays can be checked)")


def decode(data: Any, make_callable: Any = None, depth: int = 0) -> Any:
    """The inverse of :func:`encode`; ``make_callable(handle, name)`` builds a stand-in for a handle."""
    if depth > 50:
        raise WireError("the value is nested more than 50 levels deep")
    if data is None or isinstance(data, bool | int | float | str):
        return data
    if isinstance(data, list):
        return [decode(v, make_callable, depth + 1) for v in data]
    if not isinstance(data, dict) or len(data) > 3:
        raise WireError(f"malformed value of type {type(data).__name__}")
    if "__float__" in data:
        text = data["__float__"]
        if text not in ("nan", "inf", "-inf"):
            raise WireError("malformed float")
        return float(text)
    if "__complex__" in data:
        re_, im = (decode(v, None, depth + 1) for v in data["__complex__"])
        return complex(re_, im)
    if "__ndarray__" in data:
        dtype = np.dtype(data["dtype"])
        if dtype.kind not in _NUMERIC_KINDS:
            raise WireError("malformed array dtype")
        shape = tuple(int(s) for s in data["shape"])
        values = [decode(v, None, depth + 1) for v in data["__ndarray__"]]
        if math.prod(shape) != len(values):
            raise WireError("array shape does not match its data")
        return np.array(values, dtype=dtype).reshape(shape)
    if "__tuple__" in data:
        return tuple(decode(v, make_callable, depth + 1) for v in data["__tuple__"])
    if "__dict__" in data:
        out = {}
        for pair in data["__dict__"]:
            key = decode(pair[0], None, depth + 1)
            if isinstance(key, list | dict | np.ndarray):
                raise WireError("malformed dict key")
            out[key] = decode(pair[1], make_callable, depth + 1)
        return out
    if "__callable__" in data and make_callable is not None:
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


def read_frame(fd: int) -> dict:
    """Receive one JSON message from file descriptor ``fd`` (blocking)."""
    (size,) = struct.unpack(">Q", _read_exact(fd, 8))
    if size > MAX_FRAME:
        raise WireError(f"a message of {size} bytes is larger than the limit of {MAX_FRAME}")
    try:
        message = json.loads(_read_exact(fd, size))
    except ValueError as exc:
        raise WireError(f"a message that is not JSON ({exc})") from None
    if not isinstance(message, dict):
        raise WireError("a message that is not a JSON object")
    return message
