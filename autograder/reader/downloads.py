"""What the self-paced site offers for download: each notebook as a student starts it, and the ``course_lib`` wheel.

A notebook's download is its release version: every answer cell's solution replaced by the stub nbgrader
releases (:func:`release_stub`), hidden tests and worked derivations left out, no outputs. The files next to
it (data a notebook reads) go with it. Everything is written into the site folder, so the downloads work
offline.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import nbformat

from autograder.coursedir.wheel import build_course_lib_wheel
from autograder.notebook.cells import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    CODE_STUB,
    END_SOLUTION,
    meta,
    replace_regions,
    strip_hidden_tests,
)
from autograder.notebook.worked import is_worked

__all__ = ["DOWNLOADS_DIR", "MARKDOWN_STUB", "release_stub", "release_version", "write_downloads"]

DOWNLOADS_DIR = "downloads"
#: What nbgrader puts in place of a written (markdown) answer.
MARKDOWN_STUB = "YOUR ANSWER HERE"


def release_stub(source: str, cell_type: str = "code") -> str:
    """What the student's release shows for an answer cell: each solution block replaced by the stub.

    A cell without ``### BEGIN SOLUTION`` is replaced whole, as nbgrader does.
    """
    stub = CODE_STUB if cell_type == "code" else MARKDOWN_STUB
    if BEGIN_SOLUTION not in source:
        return stub
    return replace_regions(source, BEGIN_SOLUTION, END_SOLUTION, stub)


def release_version(nb: Any) -> Any:
    """A copy of source notebook ``nb`` as a student starts it: stubs, no hidden tests, no worked cells."""
    out = nbformat.from_dict(copy.deepcopy(dict(nb)))
    out.cells = [c for c in out.cells if not is_worked(c)]
    for cell in out.cells:
        if BEGIN_HIDDEN in cell.source:
            cell.source = strip_hidden_tests(cell.source)
        if meta(cell).get("solution"):
            cell.source = release_stub(cell.source, cell.cell_type)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return out


def write_downloads(folder: Path, sources: list[tuple[str, Path]]) -> tuple[dict[str, list[str]], str]:
    """Write every notebook's release version and the wheel under ``folder/downloads/``.

    ``sources`` lists ``(slug, source notebook)``. Returns ``({slug: [site-relative paths]}, the wheel's
    site-relative path)``.
    """
    root = folder / DOWNLOADS_DIR
    links: dict[str, list[str]] = {}
    for slug, source in sources:
        target = root / source.parent.name
        target.mkdir(parents=True, exist_ok=True)
        nb = nbformat.read(str(source), as_version=4)
        nbformat.write(release_version(nb), str(target / source.name))
        files = [target / source.name]
        for sibling in sorted(source.parent.iterdir()):  # data files a notebook reads
            if sibling.is_file() and sibling.suffix != ".ipynb" and not sibling.name.startswith("."):
                shutil.copy(sibling, target / sibling.name)
                files.append(target / sibling.name)
        links[slug] = [p.relative_to(folder).as_posix() for p in files]
    wheel = build_course_lib_wheel(root)
    return links, wheel.relative_to(folder).as_posix()
