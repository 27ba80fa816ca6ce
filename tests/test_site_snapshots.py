"""The static site's widget snapshots and alt text, without a kernel or a browser.

A widget's text printed in its own cell is shown once (the snapshot's), a snapshot picture that repeats
the figure just above it is left out, every picture keeps its alt text, and course_lib's widgets and
figures give that alt text (``tooltip``, PNG output metadata) and their finished state.
"""

from __future__ import annotations

import base64

import nbformat

from autograder.reader.snapshots import (
    WIDGET_PICTURE_ALT,
    WIDGET_STATE,
    WIDGET_VIEW,
    static_widget_html,
    static_widgets,
)
from course_lib.drawing import draw_graph
from course_lib.models import exp_exp_chain
from course_lib.widgets import backward_stepper

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
OTHER_PNG = base64.b64encode(base64.b64decode(PNG) + b"\0").decode()


def _state(tooltip: str | None, data: str = PNG, text: str = "Step 2 of 2: x") -> dict:
    image_state = {"format": "png"} | ({"tooltip": tooltip} if tooltip is not None else {})
    return {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_i", "IPY_MODEL_t"]}},
        "i": {"model_name": "ImageModel", "state": image_state,
              "buffers": [{"path": ["value"], "data": data, "encoding": "base64"}]},
        "t": {"model_name": "HTMLModel", "state": {"value": f"<pre>{text}</pre>"}},
    }


def test_widget_picture_alt_text_is_its_tooltip_else_a_sentence() -> None:
    out = static_widget_html("box", _state('Paths of "w_1" <b>'))
    assert 'alt="Paths of &quot;w_1&quot; &lt;b&gt;"' in out
    out = static_widget_html("box", _state(None))
    assert f'alt="{WIDGET_PICTURE_ALT}"' in out and WIDGET_PICTURE_ALT.strip()


def test_a_picture_like_the_figure_above_is_left_out() -> None:
    by_alt = static_widget_html("box", _state("Paths of w_1"), omit_pictures={"Paths of w_1"})
    by_data = static_widget_html("box", _state("something else"), omit_pictures={PNG})
    for out in (by_alt, by_data):
        assert "<img" not in out and "picture is the figure above" in out
        assert '<pre tabindex="0">Step 2 of 2: x</pre>' in out
    kept = static_widget_html("box", _state("Paths of w_2", OTHER_PNG), omit_pictures={"Paths of w_1", PNG})
    assert "<img" in kept


def _notebook(printed: str, figure_alt: str) -> nbformat.NotebookNode:
    figure = nbformat.v4.new_code_cell("display(fig)", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": PNG}, metadata={"image/png": {"alt": figure_alt}})])
    widget = nbformat.v4.new_code_cell("display(w); print(w.state_text)", outputs=[
        nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {"model_id": "box"}, "text/plain": "VBox()"}),
        nbformat.v4.new_output("stream", name="stdout", text=printed),
    ])
    nb = nbformat.v4.new_notebook(cells=[figure, widget])
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": _state("Paths of w_1", OTHER_PNG)}}
    return nb


def test_the_widget_text_printed_in_its_cell_is_dropped_and_other_prints_kept() -> None:
    texts = {"box": ["Step 0 of 2\nno gradient yet", "Step 2 of 2: x"]}
    nb = _notebook("Step 0 of 2\nno gradient yet\nanother line the cell printed\n", "Paths of w_1")
    assert static_widgets(nb, texts) == 1
    outputs = nb.cells[1].outputs
    streams = [o for o in outputs if o.output_type == "stream"]
    assert [o.text for o in streams] == ["another line the cell printed\n"]
    html = outputs[0].data["text/html"]
    assert "<img" not in html and "picture is the figure above" in html  # same alt as the figure above
    assert "widgets" not in nb.metadata

    nb = _notebook("Step 0 of 2\nno gradient yet\n", "A different figure")
    static_widgets(nb, texts)
    assert [o.output_type for o in nb.cells[1].outputs] == ["display_data"]  # the print is gone entirely
    assert "<img" in nb.cells[1].outputs[0].data["text/html"]
    nb = _notebook("Step 0 of 2\nno gradient yet\n", "A different figure")
    static_widgets(nb, {})  # without the widgets' texts nothing is dropped
    assert [o.output_type for o in nb.cells[1].outputs] == ["display_data", "stream"]


def test_course_lib_gives_alt_text_and_the_finished_stepper() -> None:
    stepper = backward_stepper(exp_exp_chain(0.8)["y"])
    assert stepper.alt_text.startswith(f"Backward pass, step 0 of {stepper.n_steps}. Computation graph")
    assert stepper.image.tooltip is None  # a tooltip stops JupyterLab (ipywidgets 8) drawing the image
    stepper.show_final_state()
    assert stepper.step == stepper.n_steps and len(stepper.revealed) == stepper.n_steps
    assert stepper.alt_text.startswith(f"Backward pass, step {stepper.n_steps} of {stepper.n_steps}.")
    assert "?" not in stepper.state_text.split("\n\n", 1)[1]

    root = exp_exp_chain(0.8)["y"]
    root.backward()
    fig = draw_graph(root)
    png, metadata = fig._repr_png_()
    assert png.startswith(b"\x89PNG") and metadata["alt"] == " ".join(fig.alt_text.split("\n\n")[0].split())
    assert "\n" not in metadata["alt"] and metadata["alt"].startswith("Computation graph of y")
