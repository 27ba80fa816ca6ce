"""Figures, PNG bytes, the colour palette and the fonts shared by every drawing.

Figures are :class:`matplotlib.figure.Figure` objects (not ``pyplot``), so nothing is shown or registered
globally; :func:`finish` gives each one its own ``_repr_png_``, so a notebook displays the returned figure
as the cell's value without any ``%matplotlib`` magic.
"""

from __future__ import annotations

import functools
import io
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

__all__ = ["PALETTE", "figure_to_png", "short_alt_text"]

#: Okabe–Ito colours, safe for the common forms of colour blindness.
PALETTE: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#7F7F7F",
}

FILL_INPUT = "#E3F1FA"  # light sky: inputs and parameters
FILL_OP = "#FFFFFF"  # white: intermediate nodes
FILL_ROOT = "#FBF7D5"  # light yellow: the loss (root)
FILL_MARKED = "#F9DDB8"  # light orange: on a highlighted path
MARK = "★"  # prefixed to highlighted nodes, so colour is never the only signal
MONO = ["DejaVu Sans Mono", "monospace"]
CHAR_EM = 0.62  # advance width of DejaVu Sans Mono (0.602 em) plus a little slack
LINE_EM = 1.25  # height of one text line, in font sizes


class Matplotlib(NamedTuple):
    """The matplotlib classes the drawings build figures from."""

    Figure: type[Figure]
    Line2D: type[Line2D]
    FancyArrowPatch: type[FancyArrowPatch]
    FancyBboxPatch: type[FancyBboxPatch]


@functools.cache
def matplotlib_classes() -> Matplotlib:
    """matplotlib's figure, line and patch classes, imported on the first drawing."""
    # Imported here, not at the top, on purpose (start-up speed): importing matplotlib takes a good part
    # of a second, and a notebook that imports the drawing functions but never draws (the grader skips
    # cells no test needs) should not pay for it. tests/test_drawing.py checks that importing
    # course_lib.drawing leaves matplotlib unimported.
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    return Matplotlib(Figure, Line2D, FancyArrowPatch, FancyBboxPatch)


def new_figure(**kwargs: object) -> Figure:
    """A fresh :class:`matplotlib.figure.Figure` made with ``kwargs`` (``figsize``, ``dpi``, ``layout``)."""
    return matplotlib_classes().Figure(**kwargs)


def finish(fig: Figure) -> Figure:
    """Give ``fig`` a PNG representation for IPython's ``display`` (no ``%matplotlib`` magic needed).

    The displayed PNG carries ``{"alt": short_alt_text(fig)}`` as its output metadata, so an HTML export
    of the notebook (the course's static site) gives the picture its alt text.
    """
    fig._repr_png_ = lambda: (figure_to_png(fig), {"alt": short_alt_text(fig)})
    return fig


def short_alt_text(fig: Figure) -> str:
    """The first paragraph of ``fig.alt_text`` on one line (what the picture is; the numbers follow it in
    the full text), or ``"A figure"`` when the figure has no alt text."""
    full = str(getattr(fig, "alt_text", "") or "").strip()
    first = full.split("\n\n", 1)[0]
    return " ".join(first.split()) or "A figure"


def figure_to_png(fig: Figure, dpi: float | None = None) -> bytes:
    """The figure as PNG bytes (for an ``ipywidgets.Image``, a test, or a file), on a white background.

    ``dpi`` defaults to the figure's own resolution.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi if dpi is not None else fig.dpi, facecolor="white")
    return buffer.getvalue()
