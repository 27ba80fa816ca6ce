"""Feedback pages that work offline and show every line: local MathJax, wrapped long lines.

nbgrader's feedback template loads MathJax from ``HTMLExporter.mathjax_url`` (a CDN by default) and shows
code in ``<pre>`` blocks that cut long lines at the right edge. The course's configuration
(:func:`autograder.coursedir.course.nbgrader_config`) points ``mathjax_url`` at ``../mathjax/`` and adds
:class:`WrapLongLines`; :func:`place_mathjax` puts the MathJax copy that ``jupyter-server-mathjax`` ships in
``feedback/<student>/mathjax/`` (hard links where the file system allows: no extra space), so a student's
feedback folder is complete on its own.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

__all__ = ["WRAP_CSS", "WrapLongLines", "mathjax_static", "place_mathjax"]

WRAP_CSS = """
pre, .highlight pre, div.output_area pre, div.output_text pre {
  white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word;
}
div.input_area, div.output_subarea { overflow-x: visible; max-width: 100%; }
"""


class WrapLongLines(Preprocessor):
    """Add CSS that wraps long code and output lines (run after ``CSSHTMLHeaderPreprocessor``)."""

    enabled = Bool(True, help="on by default: nbconvert skips a preprocessor that is not enabled").tag(config=True)

    def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
        resources.setdefault("inlining", {}).setdefault("css", []).append(WRAP_CSS)
        return nb, resources


def mathjax_static() -> Path:
    """The MathJax 2.7 folder of the ``jupyter-server-mathjax`` package (a dependency of this course)."""
    import jupyter_server_mathjax

    return Path(jupyter_server_mathjax.__file__).parent / "static"


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def place_mathjax(student_feedback: Path) -> Path:
    """``student_feedback/mathjax/`` holding MathJax (made once; kept when it is already there)."""
    dest = student_feedback / "mathjax"
    if not (dest / "MathJax.js").exists():
        part = student_feedback / f".mathjax.{os.getpid()}.part"
        shutil.rmtree(part, ignore_errors=True)
        shutil.copytree(mathjax_static(), part, copy_function=_link_or_copy)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(part, dest)
    return dest
