"""`backprop-course check` as a student runs it: the installed command, its whole output."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / "backprop-course"

pytestmark = pytest.mark.kernel


def _check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), "check", str(path)], capture_output=True, text=True, timeout=300)


def test_a_practice_notebook_is_called_practice_not_an_error():
    run = _check(ROOT / "notebooks" / "00-start-here" / "start-here.ipynb")
    assert run.returncode == 0, run.stderr
    assert "practice" in run.stdout and "nothing in it is graded" in run.stdout
    assert "is it a course notebook" not in run.stdout + run.stderr


def test_check_prints_no_kernel_log_lines():
    run = _check(ROOT / "notebooks" / "01-chain-rule" / "chain-rule.ipynb")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "IPKernelApp" not in run.stdout + run.stderr and "WARNING" not in run.stdout + run.stderr
    assert "total:" in run.stdout
