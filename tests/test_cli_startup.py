"""The command starts fast: importing the CLI (and ``--help``) loads neither nbgrader nor nbformat/jsonschema.

nbgrader's package imports its server extensions (about 1,300 modules, seconds on a loaded machine) and
nbformat builds jsonschema's machinery; a command that needs them imports them itself (cli.py's handlers).
benchmarks/startup.py measures the time.
"""

import subprocess
import sys

import pytest

from autograder.cli import main

HEAVY = ("nbgrader", "nbformat", "jsonschema", "nbclient", "nbconvert", "sqlalchemy", "matplotlib")


def test_importing_the_cli_in_a_fresh_interpreter_loads_no_nbgrader():
    # the one subprocess: this process has long imported nbgrader (other tests, conftest's plugins)
    code = f"import autograder.cli, sys; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", f"importing autograder.cli loaded {out.stdout.strip()}"


def test_help_loads_no_nbgrader(capsys, monkeypatch):
    for name in [m for m in sys.modules if m.split(".")[0] in HEAVY]:
        monkeypatch.delitem(sys.modules, name)  # restored after the test
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    assert "grade" in capsys.readouterr().out
    loaded = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
    assert loaded == [], f"--help loaded {loaded}"


def test_startup_benchmark_command_as_printed(capsys):
    """`.venv/bin/python -m benchmarks.startup`, as benchmarks/README.md prints it (one run here)."""
    from pathlib import Path

    from benchmarks import startup

    readme = (Path(__file__).resolve().parents[1] / "benchmarks" / "README.md").read_text()
    assert "\n.venv/bin/python -m benchmarks.startup\n" in readme
    assert startup.main(["--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert "backprop-course --help: " in out
    assert "loads none of nbgrader, nbformat, jsonschema" in out
