"""Third-party work done at import time that the grader never uses, deferred until something uses it.

Importing nbformat imports jsonschema, whose format checkers import ``rfc3987_syntax`` when it is installed
(jupyter_events pulls it in); that module builds an Earley parser for each of about 50 grammar rules at
import: a second or more of CPU in every process that reads a notebook (each grading worker, ``check``,
each test process), longer on a loaded machine, for an ``iri`` format check nbformat never asks for.
:func:`defer_rfc3987_syntax` (run when :mod:`autograder` is imported) puts a stand-in in its place whose
functions import the real module on their first call, so the behaviour is the same and only the cost moves.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

__all__ = ["defer_rfc3987_syntax"]

NAME = "rfc3987_syntax"
_LOCK = threading.Lock()


class _Deferred(types.ModuleType):
    """A stand-in for a module: any attribute is read from the real module, imported on first need."""

    def __init__(self, name: str) -> None:
        super().__init__(name, f"stand-in for {name}, imported on first use (autograder.lazy_imports)")
        self._real: types.ModuleType | None = None

    def _load(self) -> types.ModuleType:
        with _LOCK:
            if self._real is None:
                if sys.modules.get(self.__name__) is self:
                    del sys.modules[self.__name__]
                try:
                    self._real = importlib.import_module(self.__name__)
                finally:
                    sys.modules.setdefault(self.__name__, self)
        return self._real

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        if attr == "is_valid_syntax":  # jsonschema binds this at import: hand it a function that loads on call
            return lambda *args, **kwargs: self._load().is_valid_syntax(*args, **kwargs)
        return getattr(self._load(), attr)


def defer_rfc3987_syntax() -> bool:
    """Put the stand-in in place unless the module is absent or already imported; True if it was put in place."""
    if NAME in sys.modules or importlib.util.find_spec(NAME) is None:
        return False
    sys.modules[NAME] = _Deferred(NAME)
    return True
