r"""Gate patterns of the backward pass: what each elementary operation does to the gradient arriving from above.

Every node passes ``upstream × local`` to each of its inputs. For the three gates of the notes' networks
the local derivatives make a pattern worth knowing by heart:

* **add** $z = a + b$: both local derivatives are 1, so it *distributes* the upstream gradient unchanged;
* **multiply** $z = a\,b$: $\partial z/\partial a = b$ and $\partial z/\partial b = a$, so it *swaps* the
  inputs (each input's gradient is upstream × the *other* input);
* **max** $z = \max(a, b)$: the local derivative is 1 for the larger input and 0 for the other, so it
  *routes* the whole gradient to the winner.

:func:`gate_gradients` computes these (pure math, no graph); :func:`gate_explorer` is a small widget with
sliders for ``a``, ``b`` and the upstream gradient and a gate chooser; its ``state_text`` is the plain-text
alternative of what it shows (the same sentence and numbers), so it works without a browser too.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

__all__ = ["GATES", "GateExplorer", "gate_explorer", "gate_gradients"]

#: gate name -> (formula, the pattern in one word, the sentence explaining it)
GATES: dict[str, tuple[str, str, str]] = {
    "add": ("z = a + b", "distributes",
            "both local derivatives are 1: each input receives the upstream gradient unchanged."),
    "multiply": ("z = a · b", "swaps",
                 "dz/da = b and dz/db = a: each input receives upstream × the OTHER input's value."),
    "max": ("z = max(a, b)", "routes",
            "the local derivative is 1 for the larger input and 0 for the other: the whole gradient goes "
            "to the winner (a tie goes to a)."),
}


def gate_gradients(gate: str, a: float, b: float, upstream: float) -> tuple[float, float, float]:
    """Return ``(z, dL/da, dL/db)`` for one gate, given the upstream gradient ``dL/dz``.

    Raises ``ValueError`` for an unknown gate (the known ones are the keys of :data:`GATES`).
    """
    if gate == "add":
        return a + b, upstream * 1.0, upstream * 1.0
    if gate == "multiply":
        return a * b, upstream * b, upstream * a
    if gate == "max":
        a_wins = a >= b
        return (a if a_wins else b), upstream * (1.0 if a_wins else 0.0), upstream * (0.0 if a_wins else 1.0)
    raise ValueError(f"unknown gate {gate!r}: choose one of {', '.join(GATES)}")


def _describe(gate: str, a: float, b: float, upstream: float) -> str:
    formula, pattern, why = GATES[gate]
    z, da, db = gate_gradients(gate, a, b, upstream)
    return (
        f"{gate} gate, {formula}: it {pattern} the gradient.\n"
        f"forward:  a = {a:g}, b = {b:g}  ->  z = {z:g}\n"
        f"backward: upstream dL/dz = {upstream:g}\n"
        f"          dL/da = upstream × dz/da = {da:g}\n"
        f"          dL/db = upstream × dz/db = {db:g}\n"
        f"Why: {why}"
    )


class GateExplorer(widgets.VBox):
    """Sliders for ``a``, ``b`` and the upstream gradient, a gate chooser, and the text they produce.

    Attributes:
        controls: ``{"gate": Dropdown, "a": FloatSlider, "b": FloatSlider, "upstream": FloatSlider}``.
        state_text: the text shown (also the widget's text alternative).
    """

    def __init__(self, gate: str = "multiply", a: float = 2.0, b: float = -3.0, upstream: float = 1.5) -> None:
        if gate not in GATES:
            raise ValueError(f"unknown gate {gate!r}: choose one of {', '.join(GATES)}")
        self.controls = {
            "gate": widgets.Dropdown(options=list(GATES), value=gate, description="gate"),
            "a": widgets.FloatSlider(value=a, min=-4.0, max=4.0, step=0.5, description="a"),
            "b": widgets.FloatSlider(value=b, min=-4.0, max=4.0, step=0.5, description="b"),
            "upstream": widgets.FloatSlider(value=upstream, min=-3.0, max=3.0, step=0.5, description="dL/dz"),
        }
        self.text = widgets.HTML()
        self.state_text = ""
        for control in self.controls.values():
            control.observe(lambda _change: self._update(), names="value")
        super().__init__([*self.controls.values(), self.text])
        self._update()

    def _update(self) -> None:
        c = self.controls
        self.state_text = _describe(c["gate"].value, c["a"].value, c["b"].value, c["upstream"].value)
        self.text.value = f"<pre style='font-size: 12px; margin: 0'>{html.escape(self.state_text)}</pre>"


def gate_explorer(gate: str = "multiply", a: float = 2.0, b: float = -3.0, upstream: float = 1.5) -> GateExplorer:
    """A widget to try the three gate patterns: move ``a``, ``b`` and ``dL/dz``, pick add, multiply or max.

    ``.state_text`` holds the text it shows; ``.controls`` the sliders and the dropdown (setting their
    ``value`` updates the text at once, which is how the tests drive it).
    """
    return GateExplorer(gate, a, b, upstream)
