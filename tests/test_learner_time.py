"""benchmarks/learner_time.py: the model behind every notebook's "Estimated time" (benchmarks/README.md)."""

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import learner_time
from testkit.notebook_helpers import notebook_paths

PATHS = notebook_paths()


@pytest.mark.parametrize("path", PATHS, ids=[p.parent.name for p in PATHS])
def test_each_notebook_states_the_time_the_model_gives(path):
    estimate = learner_time.estimate(path, run=False)
    assert estimate["words"] > 500 and estimate["total"] % 5 == 0
    assert abs(estimate["stated"] - estimate["total"]) <= 5, (
        f"{path.name} says {estimate['stated']:.0f} minutes, the model gives {estimate['total']:.0f}: "
        "run `.venv/bin/python -m benchmarks.learner_time` and update the notebook's first cell"
    )


def test_the_command_in_benchmarks_readme_prints_one_row_per_notebook(capsys):
    learner_time.main(["--no-run"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 0")]
    assert [row.split("|")[1].strip() for row in rows] == [p.parent.name for p in PATHS]


@pytest.mark.kernel
def test_the_readme_command_as_printed_runs_every_notebook():
    """`.venv/bin/python -m benchmarks.learner_time`, as benchmarks/README.md prints it (run times measured)."""
    root = Path(__file__).resolve().parents[1]
    assert "`.venv/bin/python -m benchmarks.learner_time`" in (root / "benchmarks" / "README.md").read_text()
    out = subprocess.run([sys.executable, "-m", "benchmarks.learner_time"], cwd=root, capture_output=True,
                         text=True, timeout=600, check=True).stdout
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| 0")]
    assert [row[1].strip() for row in rows] == [p.parent.name for p in PATHS]
    assert all(float(row[8]) > 0 for row in rows), "each notebook's run time is measured"
