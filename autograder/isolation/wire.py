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

__all__ = ["DECODE_DEPTH", "MAX_DEPTH", "MAX_FRAME", "WireError", "decode", "encode", "read_frame", "write_frame"]

MAX_FRAME = 64 * 1024 * 1024  # a frame larger than this is refused, not buffered
MAX_DEPTH = 50  # encode refuses deeper values
DECODE_DEPTH = 40  # decode is stricter: whatever decodes can be encoded again, even inside an argument list
_NUMERIC_KINDS = "biufc"


class WireError(ValueError):
    """A value that cannot cross the boundary, or a malformed frame."""


def encode(value: Any, callables: dict[int, Any] | None = None, depth: int = 0) -> Any:
    """``value`` as JSON-ready data. Callables are registered in ``callables`` and sent as handles."""
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


def _number(data: Any, what: str) -> int | float:
    if isinstance(data, bool) or not isinstance(data, int | float):
        if isinstance(data, dict) and set(data) == {"__float__"}:
            return decode(data)
        raise WireError(f"malformed {what}")
    return data


def decode(data: Any, make_callable: Any = None, depth: int = 0) -> Any:
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
        return [decode(v, make_callable, depth + 1) for v in data]
    if not isinstance(data, dict):
        raise WireError(f"malformed value of type {type(data).__name__}")
    keys = set(data)
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
    if keys == {"__tuple__"} and isinstance(data["__tuple__"], list):
        return tuple(decode(v, make_callable, depth + 1) for v in data["__tuple__"])
    if keys == {"__dict__"} and isinstance(data["__dict__"], list):
        out = {}
        for pair in data["__dict__"]:
            if not isinstance(pair, list) or len(pair) != 2:
                raise WireError("malformed dict entry")
            key = decode(pair[0], None, depth + 1)
            if isinstance(key, list | dict | np.ndarray):
                raise WireError("malformed dict key")
            try:
                out[key] = decode(pair[1], make_callable, depth + 1)
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
