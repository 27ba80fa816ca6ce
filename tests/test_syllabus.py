"""One source of truth for points and times (issue 23, item 6): each notebook's ``syllabus`` metadata.

The metadata holds the points (the sum of the notebook's graded cells) and the estimated minutes (the model of
``benchmarks/learner_time.py``, without running); the first cell's "Estimated time" and "Points" and 00's
overview table are made from it by ``.venv/bin/python -m benchmarks.learner_time --write``. Any disagreement
among the three fails here (before issue 23, 00 said 14 and 10 points where 02 and 03 said 15 and 13).
"""

from __future__ import annotations

import re

import pytest

from benchmarks import learner_time
from testkit.notebook_helpers import is_test, notebook_paths, read

PATHS = notebook_paths()
IDS = [p.parent.name for p in PATHS]
FIX = "run `.venv/bin/python -m benchmarks.learner_time --write`"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_the_metadata_holds_the_points_of_the_graded_cells_and_the_models_minutes(path):
    nb = read(path)
    meta = nb.metadata.get(learner_time.SYLLABUS)
    assert meta and set(meta) == {"points", "minutes", "topic"}, f"{path.name}: no syllabus metadata; {FIX}"
    points = sum(float(c.metadata["nbgrader"].get("points", 0)) for c in nb.cells if is_test(c))
    assert meta["points"] == points, f"{path.name}: metadata says {meta['points']} points, the cells give {points}"
    minutes = learner_time.estimate(path, run=False)["total"]
    assert meta["minutes"] == minutes, f"{path.name}: metadata says {meta['minutes']} min, the model {minutes}; {FIX}"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_the_first_cell_states_the_metadatas_time_and_points(path):
    nb = read(path)
    first = nb.cells[0].source
    for phrase in learner_time.header_lines(nb.metadata[learner_time.SYLLABUS]):
        assert phrase in first, f"{path.name}: the first cell should say {phrase!r}; {FIX}"
    assert len(re.findall(r"\*\*Estimated time:\*\*", first)) == 1 and len(re.findall(r"\*\*Points:\*\*", first)) == 1


def test_the_overview_table_of_00_is_made_from_the_metadata():
    start = "\n".join(c.source for c in read(PATHS[0]).cells)
    table = learner_time.overview_table(PATHS)
    assert table in start, f"00's table differs from the notebooks' metadata; {FIX}\n{table}"
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == IDS


def test_the_table_changes_with_the_metadata(tmp_path):
    """The table is computed, not copied: another number in a notebook's metadata shows in it."""
    import shutil

    import nbformat

    copies = []
    for path in PATHS:
        target = tmp_path / path.parent.name / path.name
        target.parent.mkdir()
        shutil.copy(path, target)
        copies.append(target)
    nb = read(copies[2])
    nb.metadata[learner_time.SYLLABUS]["points"] = 99
    nbformat.write(nb, str(copies[2]))
    assert f"| `{IDS[2]}` |" in learner_time.overview_table(copies)
    assert "| 99 |" in learner_time.overview_table(copies) and "| 99 |" not in learner_time.overview_table(PATHS)


def test_the_write_command_in_benchmarks_readme_makes_headers_and_table_agree(tmp_path, monkeypatch):
    """`.venv/bin/python -m benchmarks.learner_time --write`, as benchmarks/README.md prints it, on a copy of the
    notebooks whose 02 says the wrong points and time (as 00 did before issue 23)."""
    import shutil
    from pathlib import Path

    import nbformat

    readme = (Path(__file__).resolve().parents[1] / "benchmarks" / "README.md").read_text()
    assert "\n.venv/bin/python -m benchmarks.learner_time --write\n" in readme
    copies = []
    for path in PATHS:
        target = tmp_path / path.parent.name / path.name
        target.parent.mkdir()
        shutil.copy(path, target)
        copies.append(target)
    nb = read(copies[2])
    nb.cells[0].source = re.sub(r"\*\*Points:\*\* \d+ in total", "**Points:** 14 in total", nb.cells[0].source)
    nb.metadata[learner_time.SYLLABUS]["minutes"] = 60
    nbformat.write(nb, str(copies[2]))
    monkeypatch.setattr(learner_time, "notebook_paths", lambda: copies)
    learner_time.main(["--write"])
    for copy, path in zip(copies, PATHS, strict=True):
        assert read(copy).metadata[learner_time.SYLLABUS] == read(path).metadata[learner_time.SYLLABUS]
        assert read(copy).cells[0].source == read(path).cells[0].source
    assert learner_time.overview_table(copies) in read(copies[0]).cells[0].source
