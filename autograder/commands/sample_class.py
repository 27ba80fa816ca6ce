"""A sample class generated from the source notebooks: correct, partly wrong, blank and broken submissions.

Used by ``backprop-course demo`` and by the end-to-end tests. Every submission starts from the released
student notebook (what a student actually receives) and fills in answers taken from the source
notebook's solutions, so it changes whenever the course changes.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Set
from pathlib import Path

import nbformat

from autograder.notebook import cells

__all__ = ["EXTRA_KINDS", "KINDS", "answer_cells", "flip_sign", "make_sample_class", "solved"]



def answer_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The autograded answer cells (solution: true, grade: false) of a notebook, in order."""
    return list(cells.answer_cells(nb))


def _solution_code(source_cell: dict) -> str:
    return cells.solution_text(source_cell["source"])


def solved(
    release_nb: nbformat.NotebookNode,
    source_nb: nbformat.NotebookNode,
    skip: Set[str] = frozenset(),
    mutate: dict[str, Callable[[str], str]] | None = None,
) -> nbformat.NotebookNode:
    """The release notebook with every answer cell filled in from the source's solution.

    Answer cells whose grade_id is in ``skip`` stay as released (unanswered); ``mutate[grade_id]`` rewrites
    that answer (a wrong answer).
    """
    solutions = {cells.grade_id(c): _solution_code(c) for c in answer_cells(source_nb)}
    nb = copy.deepcopy(release_nb)
    for cell in answer_cells(nb):
        gid = cells.grade_id(cell)
        if gid in skip or gid not in solutions:
            continue
        code = solutions[gid]
        if mutate and gid in mutate:
            code = mutate[gid](code)
        cell.source = code
    return nb


class _NegateFirstReturn(ast.NodeTransformer):
    """Flip the sign of the first ``return <number-valued expression>`` (a classic sign mistake)."""

    def __init__(self) -> None:
        self.done = False

    def visit_Return(self, node: ast.Return) -> ast.AST:
        if not self.done and node.value is not None and not isinstance(
            node.value, ast.Dict | ast.Tuple | ast.List | ast.Constant | ast.DictComp | ast.Call | ast.Name
        ):
            self.done = True
            node.value = ast.UnaryOp(op=ast.USub(), operand=node.value)
        return node


def flip_sign(code: str) -> str:
    """``code`` with the sign of its first arithmetic ``return`` flipped (unchanged if it has none)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    fixer = _NegateFirstReturn()
    tree = fixer.visit(tree)
    return ast.unparse(tree) if fixer.done else code


def _write(nb: nbformat.NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def _first_test_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return next(cells.test_cells(nb))


# Each kind: (description, how to build the submission folder from release and source notebooks)
KINDS: dict[str, str] = {
    "correct": "every exercise answered correctly",
    "partly-wrong": "one exercise left blank and one with a sign mistake",
    "blank": "the release handed in unchanged",
    "invalid-json": "a notebook file cut off halfway (not valid JSON)",
    "syntax-error": "a correct notebook with a syntax error in the first answer",
    "kernel-death": "a correct notebook whose first answer ends the Python process (os._exit)",
    "deleted-test": "a correct notebook with its first test cell deleted (restored and graded)",
    "renamed": "a correct notebook saved under another name (recognised by its content)",
    "stray-file": "a correct notebook plus a file that is not a notebook",
}


# Kinds that are slow (they run into the cell time limit) or only matter to the tests; not in the demo.
EXTRA_KINDS: dict[str, str] = {
    "exception": "a correct notebook whose first answer cell raises an exception before its definition",
    "infinite-loop": "a correct notebook whose first answer cell never finishes",
    "huge-output": "a correct notebook that prints a million lines",
    "extra-cells": "a correct notebook with cells of the student's own added",
}


def make_sample_class(release: Path, source: Path, out: Path, assignments: list[str],
                      kinds: list[str] | None = None, broken_once: bool = False) -> dict[str, str]:
    """Write one student folder per kind under ``out/<student>/<assignment>/`` (the collect layout).

    Returns ``{student id: description}``. Student ids are ``s01-correct``, ``s02-partly-wrong``, …
    With ``broken_once``, a student of a broken kind hands in only one assignment (a different one per
    kind), which keeps the demo short while every kind still appears.
    """
    chosen = kinds or list(KINDS)
    students = {}
    for i, kind in enumerate(chosen, 1):
        student = f"s{i:02d}-{kind}"
        students[student] = {**KINDS, **EXTRA_KINDS}[kind]
        broken = kind not in ("correct", "partly-wrong", "blank")
        for assignment in assignments:
            if broken_once and broken and assignment != assignments[i % len(assignments)]:
                continue
            for rel_path in sorted((release / assignment).glob("*.ipynb")):
                src = nbformat.read(str(source / assignment / rel_path.name), as_version=4)
                rel = nbformat.read(str(rel_path), as_version=4)
                dest = out / student / assignment / rel_path.name
                ids = [cells.grade_id(c) for c in answer_cells(rel)]
                if kind == "blank":
                    _write(rel, dest)
                    continue
                if kind == "partly-wrong":
                    code = {g: _solution_code(_by_id(src, g)) for g in ids[:-1]}
                    flippable = [g for g in ids[:-1] if flip_sign(code[g]) != code[g]]
                    _write(solved(rel, src, skip=set(ids[-1:]), mutate={g: flip_sign for g in flippable[:1]}), dest)
                    continue
                nb = solved(rel, src)
                if kind == "syntax-error":
                    answer_cells(nb)[0].source += "\nreturn = 1 +\n"
                elif kind == "kernel-death":
                    answer_cells(nb)[0].source += "\nimport os\nos._exit(1)\n"
                elif kind == "deleted-test":
                    nb.cells.remove(_first_test_cell(nb))
                elif kind == "exception":
                    answer_cells(nb)[0].source = "raise ValueError('not finished')\n" + answer_cells(nb)[0].source
                elif kind == "infinite-loop":
                    answer_cells(nb)[0].source += "\nwhile True:\n    pass\n"
                elif kind == "huge-output":
                    answer_cells(nb)[0].source += "\nprint('spam\\n' * 1_000_000)\n"
                elif kind == "extra-cells":
                    nb.cells.insert(2, nbformat.v4.new_code_cell("my_scratch = [i * i for i in range(10)]"))
                    nb.cells.append(nbformat.v4.new_markdown_cell("My own notes."))
                elif kind == "renamed":
                    dest = dest.with_name(f"{dest.stem} (1) final.ipynb")
                _write(nb, dest)
                if kind == "invalid-json":
                    text = dest.read_text()
                    dest.write_text(text[: len(text) // 2])
                elif kind == "stray-file":
                    (dest.parent / "notes.txt").write_text("my working, not a notebook\n")
    return students


def _by_id(nb: nbformat.NotebookNode, grade_id: str) -> dict:
    return next(c for c in nb.cells if cells.grade_id(c) == grade_id)
