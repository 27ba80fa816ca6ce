"""Packaging: one list of dependencies in two files, a working console command, the README's commands."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from autograder.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _normalise(requirement: str) -> str:
    """Lower case, no spaces, no pip extras (pip's ``psycopg[binary]`` is conda-forge's ``psycopg``)."""
    return re.sub(r"\[[^\]]*\]", "", re.sub(r"\s+", "", requirement)).lower()


def test_environment_yml_asks_for_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_normalise(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    conda = set()
    for line in (ROOT / "environment.yml").read_text().splitlines():
        m = re.match(r"^  - ([A-Za-z][\w.-]*[<>=!~].*)$", line)
        if m and not m.group(1).startswith("python"):
            conda.add(_normalise(m.group(1)))
    assert conda == wanted, f"only in environment.yml: {conda - wanted}; only in pyproject: {wanted - conda}"
    for name in ("jupyterlab", "numpy", "nbgrader", "ipywidgets", "matplotlib", "pytest"):
        assert any(r.startswith(name) for r in wanted), name
    assert not any("==" in r for r in wanted), "use compatible ranges, not exact pins"


def test_console_command_help_and_version(capsys):
    # the installed console script, once (a fresh process); --help and a bad step run in-process
    exe = Path(sys.executable).parent / "backprop-course"
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and re.fullmatch(r"backprop-course \d+\.\d+\.\d+\n", version.stdout)
    with pytest.raises(SystemExit) as helped:
        main(["--help"])
    assert helped.value.code == 0 and "demo" in capsys.readouterr().out
    with pytest.raises(SystemExit) as bad:
        main(["no-such-step"])
    assert bad.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_readme_quick_start_and_ci_use_the_same_test_command():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(make \w+)$", quick, flags=re.M)
    assert commands == ["make demo", "make test"], commands
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    for who in ("student", "instructor", "self-paced"):
        assert who in readme.lower()
