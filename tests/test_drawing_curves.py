"""course_lib.drawing.draw_loss_curves: several runs on one set of axes, told apart without colour."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from course_lib.drawing import draw_loss_curves, figure_to_png

RUNS = {"η = 0.1": [2.0, 1.9, 1.8, 1.7], "η = 2": [2.0, 1.2, 0.8, 0.5], "η = 100": [2.0, 54.0, 18.0, 25.0]}


def test_each_run_differs_by_colour_style_and_marker_and_is_labelled_on_the_picture():
    fig = draw_loss_curves(RUNS, title="three learning rates")
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == list(RUNS)
    for attribute in ("get_color", "get_linestyle", "get_marker"):
        values = [getattr(line, attribute)() for line in lines]
        assert len(set(values)) == len(values), f"{attribute}: {values}"
    assert {t.get_text() for t in ax.texts} == set(RUNS), "each line carries its label at its end"
    assert ax.get_yscale() == "log"
    png = figure_to_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000


def test_alt_text_describes_every_run_and_tables_the_numbers():
    text = draw_loss_curves(RUNS).alt_text
    assert "Loss over 4 steps for 3 runs (log scale)." in text
    assert "η = 2: the loss fell from 2 to 0.5 (smallest 0.5 at step 3, largest 2)." in text
    assert "η = 100: the loss rose from 2 to 25 (smallest 2 at step 0, largest 54); it went up on 2 of 3" \
        in text
    header = next(line for line in text.splitlines() if line.lstrip().startswith("step"))
    assert header.split() == ["step", "η", "=", "0.1", "η", "=", "2", "η", "=", "100"]
    assert text.rstrip().splitlines()[-1].split() == ["3", "1.7", "0.5", "25"]


def test_a_run_that_blows_up_is_named_and_the_scale_stays_linear_for_negative_values():
    fig = draw_loss_curves({"η = 1e6": [1.0, 1e6, np.inf], "fine": [1.0, 0.5, 0.2]})
    assert "η = 1e6: the loss is not a finite number from step 2 on (it blew up)." in fig.alt_text
    assert draw_loss_curves({"centred": [1.0, -0.5, 0.2]}).axes[0].get_yscale() == "linear"


@pytest.mark.parametrize(
    ("curves", "words"),
    [({}, "curves is empty"), ({"a": []}, "train for at least one step"),
     ({"a": [1.0, 0.5], "b": [1.0]}, "same number of losses, got a: 2, b: 1"),
     ({str(i): [1.0] for i in range(6)}, "at most 5 runs")],
)
def test_bad_input_says_what_to_do(curves, words):
    with pytest.raises(ValueError, match=words):
        draw_loss_curves(curves)
