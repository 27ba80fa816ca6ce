"""Lines of the course's solutions and hidden tests, and whether a text holds them (a leak).

Shared by the hub guide's check of what a student can read (tests/hub/test_deploy_guide.py) and the course
image's check (tests/test_kubernetes_deploy.py): one scanner, so both mean the same by "holds a solution".
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

__all__ = ["BEGIN_HIDDEN", "BEGIN_SOLUTION", "END_HIDDEN", "END_SOLUTION", "leaks", "secret_lines"]

BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"


def secret_lines(source: Path, released: str = "", solutions: bool = True) -> list[str]:
    """Lines of the hidden tests (and the solutions) in the source notebooks ``source/*/*.ipynb`` that the
    released ones (their text, ``released``) do not have: longer than 12 characters, comments left out."""
    begin, end = (BEGIN_HIDDEN, BEGIN_SOLUTION if solutions else BEGIN_HIDDEN), (END_HIDDEN, END_SOLUTION)
    out = []
    for nb_path in sorted(source.glob("*/*.ipynb")):
        for cell in nbformat.read(str(nb_path), as_version=4).cells:
            inside = False
            for line in cell.source.split("\n"):
                if any(b in line for b in begin):
                    inside = True
                elif any(e in line for e in end):
                    inside = False
                elif (inside and len(line.strip()) > 12 and not line.strip().startswith("#")
                      and json.dumps(line.strip())[1:-1] not in released):
                    out.append(line.strip())
    return sorted(set(out))


def leaks(text: str, secrets_: list[str]) -> list[str]:
    """The secret lines in ``text`` if they show a solution or hidden test: three or more of them, or one of 40+
    characters (short ones such as ``for _ in range(3):`` also occur in unrelated code, e.g. tornado's)."""
    hits = [line for line in secrets_ if line in text]
    return hits if len(hits) >= 3 or any(len(h) >= 40 for h in hits) else []
