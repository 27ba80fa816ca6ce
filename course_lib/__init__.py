"""backprop-course's shared library.

Grouped by who calls it. What a student calls (setup cells, exercises, figures, widgets):

* :mod:`course_lib.lesson` — a notebook's setup cell: :func:`~course_lib.lesson.start`.
* :mod:`course_lib.ops` — pure math: each elementary function beside its local derivative.
* :mod:`course_lib.graph` — the scalar computation graph, ``backward()`` (the chain rule) and ``forward_order``.
* :mod:`course_lib.paths` — every path from a weight to the loss, their sum, and the cost of each method.
* :mod:`course_lib.trace` — the forward/backward table of a graph.
* :mod:`course_lib.gates` — gate patterns of the backward pass (add, multiply, max) and their widget.
* :mod:`course_lib.models` — the lecture notes' models, forward only.
* :mod:`course_lib.params` — the notes' parameter names (``w_131``) in the network's arrays.
* :mod:`course_lib.training` — training the notes' network with the graph's gradients.
* :mod:`course_lib.gradcheck` — the numerical gradient checker that grades every exercise.
* :mod:`course_lib.drawing`, :mod:`course_lib.widgets` — figures with alt text, and the interactive widgets.

What the notebooks' test cells call: :mod:`course_lib.checks` (judging one exercise at a time, hidden cases,
``expect_close``, the self-check helpers of notebooks 02-04).

Beneath both: :mod:`course_lib.guard` switches automatic/numerical gradients off while graded code runs;
:mod:`course_lib.answers` holds the graded exercises' working code (left out while a notebook is graded).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("backprop-course")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0"
