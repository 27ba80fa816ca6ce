"""The real cause of an nbgrader failure, read from its log.

nbgrader's converters catch the exception a notebook raised, log its traceback, and then raise their own
``NbGraderException("Please see the above traceback …")``: the API's ``error`` holds only that. The cause
is in the API's ``log``: after ``Converting notebook <path>``, an ``[ERROR] Traceback`` record whose last
frame is followed by the exception's own text. :func:`failure_cause` returns that text, per notebook.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["failure_cause"]

_RECORD = re.compile(r"^\[(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\] ", re.MULTILINE)
_FRAME = re.compile(r'^\s*File ".*", line \d+')
_MARKS = re.compile(r"^\s*[\^~]+\s*$")
#: A fully qualified exception name at the start of the text: shown by its own name only
_QUALIFIED = re.compile(r"^(?:[A-Za-z_][\w]*\.)+(?P<name>[A-Za-z_]\w*): ")
#: Ours and nbgrader's validation errors say everything in their message: their type name adds nothing
_PLAIN = {"CourseError", "MarkerError", "NbGraderException"}


def _exception_text(traceback: str) -> str:
    """The exception's text at the end of one logged traceback (everything after the last frame's code)."""
    lines = traceback.rstrip().split("\n")
    last_frame = max((i for i, line in enumerate(lines) if _FRAME.match(line)), default=-1)
    rest = lines[last_frame + 2:] if last_frame >= 0 else lines[1:]  # the frame's line, then its code
    rest = [line.strip() for line in rest if line.strip() and not _MARKS.match(line)]
    text = " ".join(rest)
    m = _QUALIFIED.match(text)
    if m:
        text = text[m.end():] if m["name"] in _PLAIN else f"{m['name']}: {text[m.end():]}"
    elif text.split(": ", 1)[0] in _PLAIN:
        text = text.split(": ", 1)[1]
    return text


def failure_cause(log: str) -> list[str]:
    """Each real cause of failure in nbgrader's ``log``, as "<notebook>: <the exception's text>".

    Empty when the log holds no traceback (the caller then shows nbgrader's own error).
    """
    notebook = ""
    causes: list[str] = []
    starts = [m.start() for m in _RECORD.finditer(log)] + [len(log)]
    for begin, end in zip(starts, starts[1:], strict=False):
        record = log[begin:end]
        level, _, body = record.partition("] ")
        if body.startswith("Converting notebook "):
            notebook = Path(body[len("Converting notebook "):].strip()).name
        elif level == "[ERROR" and body.startswith("Traceback"):
            text = _exception_text(body)
            if text and not text.startswith("Please see the"):
                causes.append(f"{notebook}: {text}" if notebook else text)
    return causes
