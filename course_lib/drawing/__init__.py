"""Pictures of the computation graph and of training, drawn with matplotlib alone (offline, no graphviz).

Every drawing function returns a :class:`matplotlib.figure.Figure` and sets ``fig.alt_text``: a plain-text
description of the same content (the trace table, the path products, the sample points), which the
notebooks print beside the figure. Colour is never the only signal: highlighted nodes carry a ``★`` and
a thick border, highlighted edges are thick and dashed, and lines in plots differ by marker and style too.
The palette is Okabe–Ito (colour-blind safe); filled contours use ``cividis``. Everything is
deterministic: the same graph gives the same coordinates, picture and text on every run.

Where things are:

* :mod:`.figures` — figure creation, PNG bytes, the palette and fonts. matplotlib is imported on the
  first drawing, not with this package: a notebook that imports the drawing functions but never draws
  (the grader skips cells no test needs) does not pay for it.
* :mod:`.layout` — the layered layout (:func:`layered_layout`), the picture's size, edge-label places.
* :mod:`.graph_picture` — :func:`draw_graph`, its alt text :func:`describe_graph`, :func:`node_text`.
* :mod:`.plots` — :func:`draw_path_cost`, :func:`draw_function_and_derivative`, :func:`draw_loss_curve`,
  :func:`draw_decision_regions`.
* :mod:`.compare` — :func:`draw_loss_curves`: several runs (e.g. learning rates) on one set of axes.

The model and the arithmetic behind the path-cost plot live where they belong and are re-exported here
for old imports: :func:`course_lib.models.layered_chain`; :func:`course_lib.paths.chain_path_cost`,
:func:`~course_lib.paths.path_cost_rows`, :func:`~course_lib.paths.path_cost_table`.
"""

from course_lib.drawing.compare import draw_loss_curves
from course_lib.drawing.figures import PALETTE, figure_to_png
from course_lib.drawing.graph_picture import describe_graph, draw_graph, node_text
from course_lib.drawing.layout import layered_layout
from course_lib.drawing.plots import (
    draw_decision_regions,
    draw_function_and_derivative,
    draw_loss_curve,
    draw_path_cost,
)
from course_lib.models import layered_chain
from course_lib.paths import chain_path_cost, path_cost_rows, path_cost_table

__all__ = [
    "PALETTE",
    "chain_path_cost",
    "describe_graph",
    "draw_decision_regions",
    "draw_function_and_derivative",
    "draw_graph",
    "draw_loss_curve",
    "draw_loss_curves",
    "draw_path_cost",
    "figure_to_png",
    "layered_chain",
    "layered_layout",
    "node_text",
    "path_cost_rows",
    "path_cost_table",
]
