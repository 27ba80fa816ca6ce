"""The drawings are unchanged: every case of ``testkit/drawing_golden.py`` gives the recorded text and picture.

The recording (``tests/golden/drawing.json``) was made from the single-module ``course_lib/drawing.py``
before it was split into a package; see ``testkit/drawing_golden.py`` for what is compared and how to
re-record when a picture is meant to change.
"""

import json

import matplotlib
import pytest

from testkit.drawing_golden import DESCRIBE, FIGURES, GOLDEN, figure_record, figure_summary

RECORDED = json.loads(GOLDEN.read_text(encoding="utf-8"))
SAME_MATPLOTLIB = matplotlib.__version__ == RECORDED["matplotlib"]


def test_every_case_is_recorded():
    assert sorted(RECORDED["figures"]) == sorted(FIGURES)
    assert sorted(RECORDED["describe"]) == sorted(DESCRIBE)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_matches_the_recording(name):
    now, then = figure_record(FIGURES[name]()), RECORDED["figures"][name]
    assert now["text"] == then["text"], f"{name}: the alt text changed"
    assert now["artists"] == then["artists"], f"{name}: the figure's lines, boxes, texts or sizes changed"
    if SAME_MATPLOTLIB:  # PNG bytes depend on matplotlib's font rasterising; the artists above do not
        assert now["png"] == then["png"], f"{name}: the PNG bytes changed"


@pytest.mark.parametrize("name", sorted(DESCRIBE))
def test_describe_graph_matches_the_recording(name):
    assert DESCRIBE[name]() == RECORDED["describe"][name]


def test_the_summary_sees_a_one_point_change():
    """The artist hash can fail: moving one node box by a hundredth of a layer changes the summary."""
    fig = FIGURES["chain_before_backward"]()
    before = json.dumps(figure_summary(fig), sort_keys=True)
    box = fig.axes[0].patches[-1]
    box.set_x(box.get_x() + 0.01)
    assert json.dumps(figure_summary(fig), sort_keys=True) != before
