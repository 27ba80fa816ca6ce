"""Interactive explorations of the computation graph, built with ipywidgets 8 on :mod:`course_lib.drawing`.

* :func:`slider_explorer` — sliders move inputs or weights; the graph, values and gradients redraw live.
* :func:`backward_stepper` — step through the backward pass one node at a time, with the chain-rule
  sentence for each step.
* :func:`path_chooser` — pick a weight; its paths to the loss are highlighted, each path's product listed,
  and their sum compared with the gradient ``backward()`` computes.

Each function returns a container widget (a subclass of ``ipywidgets.VBox``) that also works without a
browser: ``w.controls`` holds the sliders / buttons / dropdown, and ``w.state_text`` is the plain text
currently shown (also the text alternative of the picture). Setting ``slider.value``, calling
``button.click()`` or setting ``dropdown.value`` updates both synchronously, which is how the tests drive
them. Pictures are PNG bytes in an ``ipywidgets.Image`` (``w.image``), so nothing depends on a matplotlib
backend; ``w.alt_text`` is the picture's short alt text (the static site copies it into the image's
``tooltip`` for its ``alt``: set in JupyterLab, a tooltip stops ipywidgets 8 from drawing the image).
A widget whose most telling state is not its starting one has ``show_final_state()`` (the stepper: every
gradient revealed); the static site calls it before it takes the widget's snapshot. The widgets use the
generic graph (``Node.local_grads`` and ``Node.backward()``), never a model's hand-derived formulas, and
they respect :mod:`course_lib.guard`: building one inside ``hand_written_only`` raises ``AutodiffDisabledError``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping

import ipywidgets as widgets

from course_lib import guard
from course_lib.drawing import draw_graph, figure_to_png
from course_lib.drawing.figures import short_alt_text
from course_lib.graph import Node, forward_order  # unguarded: see its docstring
from course_lib.paths import Path, enumerate_paths
from course_lib.trace import format_trace

__all__ = [
    "WIDGET_MAX_SIZE",
    "BackwardStepper", "PathChooser", "SliderExplorer", "backward_stepper", "path_chooser", "slider_explorer"]

Built = Node | Mapping[str, Node]

#: The largest picture a widget draws, in inches (at 90-96 dpi this fits a notebook column).
WIDGET_MAX_SIZE: tuple[float, float] = (10.0, 6.5)


def _pre(text: str) -> str:
    """Plain text as a preformatted HTML block (escaped)."""
    return f"<pre style='font-size: 12px; line-height: 1.3; margin: 0'>{html.escape(text)}</pre>"


def _fmt(x: float, digits: int) -> str:
    return f"{x:.{digits}g}"


def _factor(x: float, digits: int) -> str:
    """A number as a factor in a product: negative numbers in parentheses."""
    s = _fmt(x, digits)
    return f"({s})" if x < 0 else s


class SliderExplorer(widgets.VBox):
    """Sliders, the graph picture and the trace table; see :func:`slider_explorer`.

    Attributes:
        controls: ``{name: FloatSlider}``, in the order given.
        image: the ``ipywidgets.Image`` with the current drawing (PNG).
        text: the ``ipywidgets.HTML`` showing :attr:`state_text`.
        root: the current root node (rebuilt on every change).
        state_text: the current values line and trace table, as plain text.
        n_redraws: how many times the picture was drawn (1 after creation).
    """

    def __init__(
        self,
        build: Callable[..., Built],
        params: Mapping[str, tuple[float, float, float]],
        *,
        root_key: str | None = None,
        step: float | None = None,
        title: str | None = None,
        figsize: tuple[float, float] | None = None,
        dpi: float = 90.0,
        digits: int = 4,
    ) -> None:
        if not params:
            raise ValueError("slider_explorer needs at least one parameter: {'x': (min, max, value)}")
        guard.ensure_allowed("course_lib.widgets.slider_explorer")
        self._build, self._root_key, self._title = build, root_key, title
        self._figsize, self._dpi, self._digits = figsize, dpi, digits
        self.controls: dict[str, widgets.FloatSlider] = {}
        for name, spec in params.items():
            lo, hi, value = (float(v) for v in spec)
            if not lo <= value <= hi:
                raise ValueError(f"slider {name!r}: value {value} is outside [{lo}, {hi}]")
            self.controls[name] = widgets.FloatSlider(
                value=value, min=lo, max=hi, step=step if step is not None else (hi - lo) / 100,
                description=name, continuous_update=False, readout_format=".3f",
                style={"description_width": "initial"},
            )
        self.image = widgets.Image(format="png")
        self.text = widgets.HTML()
        self.state_text = ""
        self.n_redraws = 0
        self.root = self._rebuild()  # errors at creation are raised, not hidden
        self._show(self.root)
        for slider in self.controls.values():
            slider.observe(self._on_change, names="value")
        super().__init__([widgets.HBox(list(self.controls.values()), layout={"flex_flow": "row wrap"}),
                          self.image, self.text])

    @property
    def values(self) -> dict[str, float]:
        """The sliders' current values."""
        return {name: float(s.value) for name, s in self.controls.items()}

    def _rebuild(self) -> Node:
        built = self._build(**self.values)
        if isinstance(built, Node):
            root = built
        elif self._root_key is not None:
            root = built[self._root_key]
        elif "L" in built:
            root = built["L"]
        elif "y" in built:
            root = built["y"]
        else:
            raise KeyError(f"build() returned keys {list(built)}: pass root_key= to say which node is the root")
        root.backward()
        return root

    def _show(self, root: Node) -> None:
        values = ", ".join(f"{k} = {v:.3f}" for k, v in self.values.items())
        self.state_text = (
            f"{values}  →  {root.name} = {_fmt(root.value, self._digits)}\n\n"
            + format_trace(root, digits=self._digits)
        )
        self.text.value = _pre(self.state_text)
        fig = draw_graph(root, title=self._title, figsize=self._figsize, max_size=WIDGET_MAX_SIZE, dpi=self._dpi)
        self.image.value = figure_to_png(fig)
        self.alt_text = short_alt_text(fig)
        self.n_redraws += 1

    def _on_change(self, _change: object) -> None:
        try:
            self.root = self._rebuild()
        except Exception as err:  # noqa: BLE001 - a bad slider value must not kill the widget: say what happened
            values = ", ".join(f"{k} = {v:.3f}" for k, v in self.values.items())
            self.state_text = f"{values}\nCould not build the graph: {type(err).__name__}: {err}"
            self.text.value = _pre(self.state_text)
            return
        self._show(self.root)


def slider_explorer(
    build: Callable[..., Built],
    params: Mapping[str, tuple[float, float, float]],
    *,
    root_key: str | None = None,
    step: float | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float = 90.0,
    digits: int = 4,
) -> SliderExplorer:
    """Sliders that move inputs or weights, with the graph and its trace table redrawn on every change.

    On each change ``build(**values)`` is called with the sliders' values (keyword names = the keys of
    ``params``); it returns the root node, or a dict of nodes whose ``root_key`` entry (default ``"L"``,
    else ``"y"``) is the root. The root's ``backward()`` runs, then the picture and the trace are redrawn.
    If a value makes the build fail (say, a log of a negative number) the text says why and the previous
    picture stays.

    Args:
        build: makes the graph, e.g. ``lambda x, w1, w2, w3: models.sigmoid_chain(x, w1, w2, w3)``.
        params: ``{name: (min, max, value)}`` for each slider.
        root_key: which entry of the dict ``build`` returns is the root.
        step: the sliders' step (default: 1/100 of each range).
        title, figsize, dpi: passed to :func:`course_lib.drawing.draw_graph` (by default the figure is
            fitted to the graph, at most :data:`WIDGET_MAX_SIZE` inches).
        digits: significant digits in the trace table.

    Returns:
        A :class:`SliderExplorer` (an ``ipywidgets.VBox``): ``.controls[name]`` are the sliders,
        ``.state_text`` the text shown, ``.image`` the picture, ``.root`` the current graph.
    """
    return SliderExplorer(build, params, root_key=root_key, step=step, title=title, figsize=figsize, dpi=dpi,
                          digits=digits)


class BackwardStepper(widgets.VBox):
    """A step-through of the backward pass; see :func:`backward_stepper`.

    Attributes:
        controls: ``{"back": Button, "next": Button, "reset": Button}``.
        order: the nodes in the order their gradients are revealed (reverse topological order).
        grads: ``{node: gradient}`` from one ``root.backward()`` at creation.
        sentences: ``sentences[k]`` explains step ``k`` (``sentences[0]`` is the starting state).
        image, text, status: the picture, the text and the "Step k of n" label.
        step: the current step, 0 (nothing revealed) to ``n_steps`` (every gradient revealed).
        state_text: the current sentence and the table of revealed gradients, as plain text.
    """

    def __init__(
        self, root: Node, *, figsize: tuple[float, float] | None = None, dpi: float = 90.0,
        digits: int = 3,
    ) -> None:
        root.backward()  # calls guard.ensure_allowed: refuses inside hand_written_only
        self.root = root
        self._figsize, self._dpi, self._digits = figsize, dpi, digits
        forward = [n for n in forward_order(root) if n.op != "const" or n is root]
        self.grads: dict[Node, float] = {n: n.grad for n in forward}
        self.order: list[Node] = forward[::-1]
        # children edges of each node, in the order backward() visits them (reverse topological order)
        self._uses: dict[int, list[tuple[Node, float]]] = {id(n): [] for n in forward}
        for child in self.order:
            for parent, local in zip(child.parents, child.local_grads, strict=True):
                if id(parent) in self._uses:
                    self._uses[id(parent)].append((child, local))
        self.sentences = [self._start_sentence()] + [self._explain(n) for n in self.order]
        self._pngs: dict[int, tuple[bytes, str]] = {}
        self.step = 0

        self.controls = {
            "back": widgets.Button(description="◀ Back", tooltip="hide the last gradient"),
            "next": widgets.Button(description="Next ▶", tooltip="reveal the next gradient", button_style="primary"),
            "reset": widgets.Button(description="Reset", tooltip="hide every gradient"),
        }
        self.controls["back"].on_click(lambda _b: self.go(self.step - 1))
        self.controls["next"].on_click(lambda _b: self.go(self.step + 1))
        self.controls["reset"].on_click(lambda _b: self.go(0))
        self.status = widgets.Label()
        self.image = widgets.Image(format="png")
        self.text = widgets.HTML()
        self.state_text = ""
        super().__init__([widgets.HBox([*self.controls.values(), self.status]), self.image, self.text])
        self.go(0)

    @property
    def n_steps(self) -> int:
        """The number of steps: one per node (constants are not shown)."""
        return len(self.order)

    @property
    def revealed(self) -> dict[str, float]:
        """``{node name: gradient}`` for the nodes revealed so far, in reveal order."""
        return {n.name: self.grads[n] for n in self.order[: self.step]}

    def _start_sentence(self) -> str:
        return (f"The forward pass is done: every value is known, no gradient yet. Next starts at the output: "
                f"grad({self.root.name}) = d{self.root.name}/d{self.root.name} = 1.")

    def _explain(self, node: Node) -> str:
        d = self._digits
        if node is self.root:
            return f"grad({node.name}) = 1: {node.name} changes one-for-one with itself. Now go backwards."
        uses = self._uses[id(node)]  # in backward()'s order, so the sum below is bit-for-bit its sum
        total = 0.0
        for c, local in uses:
            total += self.grads[c] * local
        shown = uses[::-1]  # the sentence lists the children in forward order
        symbolic = " + ".join(f"grad({c.name}) × ∂{c.name}/∂{node.name}" for c, _ in shown)
        numbers = " + ".join(f"{_factor(self.grads[c], d)} × {_factor(local, d)}" for c, local in shown)
        sentence = f"grad({node.name}) = {symbolic} = {numbers} = {_fmt(total, d)}"
        if len(uses) > 1:
            sentence += f"  ({node.name} feeds {len(uses)} nodes, so the contributions of its paths add up)"
        return sentence

    def _table(self) -> str:
        shown = {id(n) for n in self.order[: self.step]}
        rows = [(n.name, _fmt(n.value, 6), _fmt(self.grads[n], 6) if id(n) in shown else "?")
                for n in reversed(self.order)]
        header = ("node", "value", "grad")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def go(self, step: int) -> None:
        """Show step ``step`` (clamped to 0..n_steps): the first ``step`` gradients are revealed."""
        self.step = max(0, min(int(step), self.n_steps))
        k = self.step
        self.status.value = f"Step {k} of {self.n_steps}"
        self.controls["back"].disabled = k == 0
        self.controls["reset"].disabled = k == 0
        self.controls["next"].disabled = k == self.n_steps
        heading = f"Step {k} of {self.n_steps}" + (f": {self.order[k - 1].name}" if k else "")
        self.state_text = f"{heading}\n{self.sentences[k]}\n\n{self._table()}"
        self.text.value = _pre(self.state_text)
        if k not in self._pngs:
            shown: dict[Node, float | None] = {n: self.grads[n] for n in self.order[:k]}
            current = [self.order[k - 1]] if k else []
            edges = [(current[0], c) for c, _ in self._uses[id(current[0])]] if k else []
            fig = draw_graph(self.root, shown_grads=shown, highlight_nodes=current, highlight_edges=edges,
                             title=f"Backward pass, step {k} of {self.n_steps}", figsize=self._figsize,
                             max_size=WIDGET_MAX_SIZE, dpi=self._dpi)
            self._pngs[k] = (figure_to_png(fig), f"Backward pass, step {k} of {self.n_steps}. {short_alt_text(fig)}")
        self.image.value, self.alt_text = self._pngs[k]

    def show_final_state(self) -> None:
        """Show the last step (every gradient revealed): what a static snapshot of the stepper shows."""
        self.go(self.n_steps)


def backward_stepper(
    root: Node, *, figsize: tuple[float, float] | None = None, dpi: float = 90.0, digits: int = 3
) -> BackwardStepper:
    """Step through the backward pass of ``root``'s graph one node at a time.

    Buttons "Next", "Back" and "Reset". At step ``k`` the first ``k`` nodes in reverse topological order
    (the root first) show their gradient and the others show "?"; the node just revealed is starred and
    the edges to its children are thick and dashed; a sentence gives the chain rule for it, e.g.
    ``grad(h2) = grad(a3) × ∂a3/∂h2 = (-0.461) × 0.7 = -0.323``, summing over children when the node feeds
    several. ``root.backward()`` runs once at creation (so this refuses inside ``hand_written_only``); the
    steps replay its chain rule from the stored local derivatives, without calling backward again.

    Returns:
        A :class:`BackwardStepper`: ``.controls["next"|"back"|"reset"]``, ``.step``, ``.revealed``,
        ``.state_text``, ``.order``, ``.grads``.
    """
    return BackwardStepper(root, figsize=figsize, dpi=dpi, digits=digits)


class PathChooser(widgets.VBox):
    """Pick a weight, see its paths to the loss; see :func:`path_chooser`.

    Attributes:
        controls: ``{"weight": Dropdown}`` (the option values are the weights' names).
        loss: the loss node.
        paths: the current weight's paths to the loss.
        path_total: the sum of their products.
        grad: the current weight's gradient from ``loss.backward()``.
        image, text: the picture and the text widget.
        state_text: the listed paths, their sum and the comparison with backward, as plain text.
    """

    def __init__(
        self, graph_nodes: Mapping[str, Node], loss_key: str = "L", *,
        figsize: tuple[float, float] | None = None, dpi: float = 96.0,
    ) -> None:
        if loss_key not in graph_nodes:
            raise KeyError(f"no node named {loss_key!r}: the keys are {', '.join(graph_nodes)}")
        self.loss = graph_nodes[loss_key]
        self.loss.backward()  # calls guard.ensure_allowed: refuses inside hand_written_only
        self._nodes = dict(graph_nodes)
        self._figsize, self._dpi = figsize, dpi
        self._grads = {name: n.grad for name, n in self._nodes.items()}
        weights = [name for name, n in self._nodes.items()
                   if n.op == "input" and n.label[:1] in ("w", "b") and n is not self.loss]
        if not weights:
            raise ValueError("no weights: path_chooser lists input nodes whose label starts with 'w' or 'b'")
        self.controls = {"weight": widgets.Dropdown(options=weights, value=weights[0], description="weight")}
        self.image = widgets.Image(format="png")
        self.text = widgets.HTML()
        self.paths: list[Path] = []
        self.path_total = math.nan
        self.grad = math.nan
        self.state_text = ""
        self._show(weights[0])
        self.controls["weight"].observe(lambda change: self._show(change["new"]), names="value")
        super().__init__([self.controls["weight"], self.image, self.text])

    def _show(self, name: str) -> None:
        weight = self._nodes[name]
        self.paths = enumerate_paths(weight, self.loss)
        self.path_total = math.fsum(p.product for p in self.paths)
        self.grad = self._grads[name]
        agree = math.isclose(self.path_total, self.grad, rel_tol=1e-9, abs_tol=1e-12)
        loss = self.loss.name
        lines = [f"{len(self.paths)} path(s) from {name} to {loss}; each contributes the product of the local "
                 "derivatives along it:"]
        lines += [f"  {i}. {p.describe()}" for i, p in enumerate(self.paths, start=1)]
        lines += [
            f"sum over the paths          = {self.path_total:.6g}",
            f"backward() gives grad({name}) = {self.grad:.6g}",
            ("They agree: backward() computes exactly this sum, sharing the common factors instead of "
             "multiplying every path out." if agree else
             f"They differ by {self.path_total - self.grad:.3g}: the graph changed since backward() ran."),
        ]
        self.state_text = "\n".join(lines)
        self.text.value = _pre(self.state_text)
        fig = draw_graph(self.loss, highlight_paths=self.paths, title=f"Paths from {name} to {loss}",
                         figsize=self._figsize, max_size=WIDGET_MAX_SIZE, dpi=self._dpi)
        self.image.value = figure_to_png(fig)
        self.alt_text = short_alt_text(fig)


def path_chooser(
    graph_nodes: Mapping[str, Node], loss_key: str = "L", *,
    figsize: tuple[float, float] | None = None, dpi: float = 96.0,
) -> PathChooser:
    """A dropdown of weights; the chosen weight's paths to the loss are highlighted and summed.

    The weights are the input nodes whose label starts with "w" or "b" (``w_131``, ``b_21``), in the
    order of ``graph_nodes`` (e.g. :func:`course_lib.models.network_graph`). For the chosen weight the
    picture stars its paths, the text lists each path's product (:meth:`course_lib.paths.Path.describe`),
    their sum, and the gradient from one ``loss.backward()`` (run at creation, so this refuses inside
    ``hand_written_only``), and says whether they agree.

    Returns:
        A :class:`PathChooser`: ``.controls["weight"]``, ``.paths``, ``.path_total``, ``.grad``,
        ``.state_text``, ``.image``.
    """
    return PathChooser(graph_nodes, loss_key, figsize=figsize, dpi=dpi)
