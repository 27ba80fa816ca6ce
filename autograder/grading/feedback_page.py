"""Feedback pages that work offline and show every line: local MathJax, wrapped long lines.

nbgrader's feedback template loads MathJax from a CDN (its ``{{ mathjax() }}`` call ignores
``HTMLExporter.mathjax_url``) and shows code in ``<pre>`` blocks that cut long lines at the right edge. The
course's configuration (:func:`autograder.coursedir.course.nbgrader_config`) adds :class:`WrapLongLines`;
:func:`make_self_contained` points each page's MathJax at ``../mathjax/`` and puts there the MathJax copy
that ``jupyter-server-mathjax`` ships (``feedback/<student>/mathjax/``), so a student's feedback folder is
complete on its own. Each student's copy is hard links (where the file system allows: no extra space) to the
course's own copy in ``.grading/mathjax/``, never to the installed package's files: a link to those would
share their inodes with every other course on the machine, and a link made there (another course graded)
changes their ctime, so ``tar`` of this course's feedback fails with "file changed as we read it".
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

__all__ = ["LOCAL_MATHJAX_URL", "WRAP_CSS", "CompiledTemplatesHTMLExporter", "WrapLongLines", "make_self_contained",
           "mathjax_static", "place_mathjax"]

#: Where a feedback page (feedback/<student>/<assignment>/<notebook>.html) finds MathJax: one copy per student
LOCAL_MATHJAX_URL = "../mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
_REMOTE_MATHJAX = re.compile(r'src="https?://[^"]*mathjax[^"]*"', re.I)

WRAP_CSS = """
pre, .highlight pre, div.output_area pre, div.output_text pre {
  white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word;
}
div.input_area, div.output_subarea { overflow-x: visible; max-width: 100%; }
"""


class _CompiledTemplates(BytecodeCache):
    """jinja's compiled templates, kept in this process (a bucket is keyed by the template's name and source)."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


class CompiledTemplatesHTMLExporter(HTMLExporter):
    """nbconvert's HTMLExporter whose jinja templates compile once per process, not once per page.

    nbgrader makes a new exporter (and jinja environment) for every ``generate_feedback``; a grading worker
    makes hundreds. The pages are the same: a template whose source changed compiles again (jinja keys the
    cache by a checksum of the source). Set as ``GenerateFeedback.exporter_class``; ``HTMLExporter``'s
    settings apply to it.
    """

    def _create_environment(self) -> Any:
        environment = super()._create_environment()
        environment.bytecode_cache = _COMPILED
        return environment


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


def _copy_once(src: Path, dest: Path, copy_function: Any = shutil.copy2) -> Path:
    """``dest`` as a copy of the MathJax folder ``src``, made once (kept when it is already there).

    Made beside and renamed into place, so it is whole or absent; when two grading workers make it at once,
    the first rename wins and the other's copy is dropped.
    """
    if (dest / "MathJax.js").exists():
        return dest
    part = dest.parent / f".{dest.name}.{os.getpid()}.part"
    shutil.rmtree(part, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, part, copy_function=copy_function)
    try:
        os.rename(part, dest)  # refused (ENOTEMPTY) when another worker's copy is there first
    except OSError:
        if (dest / "MathJax.js").exists():
            shutil.rmtree(part, ignore_errors=True)
        else:  # a broken leftover: replace it
            shutil.rmtree(dest, ignore_errors=True)
            os.replace(part, dest)
    return dest


def place_mathjax(student_feedback: Path, course_copy: Path) -> Path:
    """``student_feedback/mathjax/`` holding MathJax (made once; kept when it is already there).

    ``course_copy``: the course's own MathJax folder (``CourseDir.state / "mathjax"``), copied from the package
    once; the student's folder links to its files.
    """
    master = _copy_once(mathjax_static(), course_copy)
    return _copy_once(master, student_feedback / "mathjax", copy_function=_link_or_copy)


def make_self_contained(assignment_feedback: Path, course_copy: Path) -> None:
    """Point every page in ``feedback/<student>/<assignment>/`` at the student's local MathJax copy.

    ``course_copy``: see :func:`place_mathjax`.
    """
    if not assignment_feedback.is_dir():
        return
    place_mathjax(assignment_feedback.parent, course_copy)
    for page in assignment_feedback.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        local = _REMOTE_MATHJAX.sub(f'src="{LOCAL_MATHJAX_URL}"', text)
        if local != text:
            page.write_text(local, encoding="utf-8")
