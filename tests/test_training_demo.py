"""`backprop-course train`: the multi-path network trains and backprop agrees with finite differences."""

import re

from autograder.cli import main


def test_train_prints_progress_and_a_matching_gradient_table(capsys):
    assert main(["train", "--steps", "40", "--lr", "2.0"]) == 0
    out = capsys.readouterr().out
    assert "step    40/40" in out
    first, last = (float(v) for v in re.search(r"loss ([\d.]+) -> ([\d.]+)", out).groups())
    assert last < first
    rows = [ln.split() for ln in out.splitlines() if re.match(r"^[wb]_\d+ ", ln)]
    assert [r[0] for r in rows][:3] == ["w_111", "w_112", "w_121"] and len(rows) == 17
    assert max(float(r[-1]) for r in rows) < 1e-8  # |backprop - numeric| for every parameter


def test_train_rejects_bad_arguments(capsys):
    assert main(["train", "--steps", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
