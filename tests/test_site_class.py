"""A class's site (`backprop-course site --no-solutions`), built with the README's command as printed.

No solution, no worked derivation and no download on any page; the start page says the solutions are not
there (issue 23, item 7). The self-paced site's own checks are in tests/browser/test_static_site.py.
"""

from __future__ import annotations

import html
import re
import shlex
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.notebook.worked import is_worked
from autograder.reader.downloads import release_version
from autograder.reader.site import find_pages, release_stub, solution_text

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[1]


def _readme_command() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (line,) = [ln.strip() for ln in readme.splitlines() if "backprop-course site --no-solutions" in ln]
    words = shlex.split(line)
    assert words[0] == ".venv/bin/backprop-course", line
    return words[1:]


def test_the_class_site_has_no_solutions(tmp_path):
    # its own process, as a person runs it (an event loop another test left in this process cannot interfere)
    command = [str(Path(sys.executable).parent / "backprop-course"), *_readme_command()]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, (run.stdout[-2000:], run.stderr[-2000:])
    out = tmp_path / "class-site"
    index = (out / "index.html").read_text()
    assert "without their solutions" in index and "holds the solutions" not in index
    assert not (out / "downloads").exists() and "download" not in index
    for page in find_pages(ROOT / "notebooks"):
        text = (out / page.filename).read_text()
        visible = html.unescape(re.sub(r"<[^>]+>", "", text))
        assert 'class="site-solution"' not in text and "Worked derivation" not in text, page.slug
        source = nbformat.read(str(page.source), as_version=4)
        released = "\n".join(c.source for c in release_version(source).cells)  # what a student sees anyway
        for cell in source.cells:
            if is_worked(cell):
                first = next(ln for ln in cell.source.splitlines()[2:] if len(ln.strip()) > 30)
                assert first.strip() not in text, (page.slug, first)
            if (cell.metadata.get("nbgrader") or {}).get("solution") and cell.cell_type == "code":
                stub = set(release_stub(cell.source).splitlines())
                answer = [ln.strip() for ln in solution_text(cell.source).splitlines()
                          if ln not in stub and len(ln.strip()) > 25 and ln.strip() not in released]
                shown = [ln for ln in answer if ln in visible]
                assert not shown, (page.slug, shown[:2])
