"""Student text is untrusted wherever it goes: one function per destination.

Anything a student chose (a grade_id, an error message, a file name, a cell's output) passes through the
function for where it is going before it is printed, written to a CSV cell, put into HTML or used as a
file name. Each function is total: it never raises on odd input (lone surrogates, control characters).
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata

__all__ = ["for_csv", "for_filename", "for_html", "for_terminal", "printable"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 and C1 controls except tab and newline
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def printable(text: object) -> str:
    """``text`` as a string any UTF-8 writer accepts: lone surrogates and undecodable bytes become U+FFFD."""
    s = text if isinstance(text, str) else str(text)
    return re.sub(r"[\ud800-\udfff]", "\ufffd", s)


def for_terminal(text: object, *, keep_newlines: bool = False) -> str:
    """``text`` safe to print: no escape sequences or other control characters (shown as ``\\xNN``)."""
    s = printable(text)
    if not keep_newlines:
        s = s.replace("\r", "\\r").replace("\n", "\\n")

    def show(m: re.Match[str]) -> str:
        return f"\\x{ord(m.group()):02x}"

    return _CONTROL.sub(show, s)


def for_csv(text: object) -> str:
    """``text`` safe in a spreadsheet cell: a leading ``= + - @`` (a formula) is neutralised with ``'``.

    Numbers keep their sign: ``-1.5`` stays a number, ``-1+cmd`` does not.
    """
    s = for_terminal(text)
    if s.startswith(_FORMULA_START) and not re.fullmatch(r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?", s):
        return "'" + s
    return s


def for_html(text: object) -> str:
    """``text`` escaped for HTML element content or a quoted attribute."""
    return html.escape(printable(text), quote=True)


def for_filename(text: object, *, max_length: int = 64) -> str:
    """A short, safe folder or file name for ``text`` (ASCII letters, digits, ``-``, ``_``, ``.``).

    Accents are transliterated (``Müller`` -> ``Muller``); anything else becomes ``-``. When that changed
    the text or cut it, an 8-character hash of the original is appended, so two different inputs never
    map to the same name (``Anna Müller`` and ``Anna Möller`` stay apart). Never ``.``, ``..`` or empty.
    """
    original = printable(text)
    ascii_text = unicodedata.normalize("NFKD", original).encode("ascii", "ignore").decode("ascii")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_text).strip("-.") or "x"
    if safe == original and len(safe) <= max_length:
        return safe
    digest = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe[: max_length - 9].rstrip('-.') or 'x'}-{digest}"
