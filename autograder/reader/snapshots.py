"""Widgets on the static site: snapshots of their last state, drawn as disabled HTML controls.

After a notebook has run, :data:`FINISH_WIDGETS` (run in its kernel) records each widget's text and shows
its final state; :func:`static_widgets` then replaces every widget view in the notebook's outputs by a
snapshot (:func:`static_widget_html`), so a page needs no widget JavaScript. A widget's text printed in its
own cell is shown once (in the snapshot); a snapshot picture that repeats the figure just above it is left
out; a picture keeps its alt text (its ``tooltip``).
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Collection
from typing import Any

from nbconvert.filters import clean_html

__all__ = [
    "FINISH_WIDGETS",
    "WIDGET_PICTURE_ALT",
    "WIDGET_STATE",
    "WIDGET_VIEW",
    "static_widget_html",
    "static_widgets",
]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


#: Run in each notebook's kernel after its last cell: records the text of every widget that has a
#: ``state_text`` (as printed by the notebook), then calls ``show_final_state()`` where a widget has one
#: and copies its picture's ``alt_text`` into the image's ``tooltip`` (the snapshot's alt);
#: prints ``{model_id: [text before, text after]}`` as JSON.
FINISH_WIDGETS = """\
def _site_finish_widgets():
    import json
    try:
        from ipywidgets.widgets.widget import _instances
    except ImportError:
        _instances = {}
    texts = {}
    for w in list(_instances.values()):
        before = getattr(w, "state_text", None)
        if not isinstance(before, str):
            continue
        finish = getattr(w, "show_final_state", None)
        if callable(finish):
            finish()
        image, alt = getattr(w, "image", None), getattr(w, "alt_text", None)
        if image is not None and isinstance(alt, str):
            image.tooltip = alt  # the snapshot's alt text (never set in JupyterLab: it hides the image there)
        texts[w.model_id] = [before, str(getattr(w, "state_text", ""))]
    print(json.dumps(texts))
_site_finish_widgets()
del _site_finish_widgets
"""
#: What a widget picture's alt text is when the widget gives none.
WIDGET_PICTURE_ALT = "A picture drawn by the widget; the text beside it gives the same numbers."


def _model_ref(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("IPY_MODEL_"):
        return value[len("IPY_MODEL_"):]
    return None


def static_widget_html(model_id: str, state: dict[str, Any], omit_pictures: Collection[str] = ()) -> str | None:
    """HTML that shows widget ``model_id`` as it was, from the notebook's saved widget ``state``.

    ``state`` is ``nb.metadata.widgets[WIDGET_STATE]["state"]``. Boxes, sliders, buttons, labels, HTML,
    dropdowns and PNG images are drawn as disabled HTML controls; an image's alt text is its ``tooltip``
    (``course_lib.widgets`` sets it), else :data:`WIDGET_PICTURE_ALT`. An image whose alt text or base64
    data is in ``omit_pictures`` (the figure just above it on the page) is replaced by a line saying so.
    Returns ``None`` when the model (or one of its children) is not in ``state`` or is of another kind.
    """

    entry = state.get(model_id)
    if entry is None:
        return None
    name = entry.get("model_name", "")
    s = entry.get("state", {})
    desc = html.escape(str(s.get("description", "")))
    if name in ("VBoxModel", "HBoxModel", "BoxModel", "GridBoxModel"):
        return _box(name, s, state, omit_pictures)
    if name in ("FloatSliderModel", "IntSliderModel"):
        return _slider(name, s, desc)
    if name == "ButtonModel":
        return f'<button class="site-widget-button" disabled>{desc}</button>'
    if name == "LabelModel":
        return f'<span class="site-widget-label">{html.escape(str(s.get("value", "")))}</span>'
    if name == "HTMLModel":
        # a <pre> wider than a phone's screen scrolls: tabindex lets the keyboard scroll it too
        cleaned = re.sub(r"<pre\b", '<pre tabindex="0"', str(clean_html(str(s.get("value", "")))))
        return f'<div class="site-widget-html">{cleaned}</div>'
    if name == "DropdownModel":
        labels = s.get("_options_labels", [])
        index = s.get("index")
        options = "".join(f'<option{" selected" if i == index else ""}>{html.escape(str(label))}</option>'
                          for i, label in enumerate(labels))
        return f'<label class="site-widget-dropdown">{desc} <select disabled>{options}</select></label>'
    if name == "ImageModel":
        return _image(entry, s, omit_pictures)
    return None


def _box(name: str, s: dict[str, Any], state: dict[str, Any], omit_pictures: Collection[str]) -> str | None:
    parts = []
    for child in s.get("children", []):
        ref = _model_ref(child)
        rendered = static_widget_html(ref, state, omit_pictures) if ref else None
        if rendered is None:
            return None
        parts.append(rendered)
    kind = "hbox" if name == "HBoxModel" else "vbox"
    return f'<div class="site-widget-{kind}">' + "".join(parts) + "</div>"


def _slider(name: str, s: dict[str, Any], desc: str) -> str:
    value = s.get("value", 0)
    fmt = s.get("readout_format") or (".2f" if name == "FloatSliderModel" else "d")
    try:
        shown = format(value, fmt)
    except (TypeError, ValueError):
        shown = str(value)
    return (f'<label class="site-widget-slider">{desc} <input type="range" disabled min="{s.get("min", 0)}" '
            f'max="{s.get("max", 100)}" step="{s.get("step", 1)}" value="{value}"> '
            f"<output>{html.escape(shown)}</output></label>")


def _image(entry: dict[str, Any], s: dict[str, Any], omit_pictures: Collection[str]) -> str | None:
    data = next((b.get("data") for b in entry.get("buffers", []) if b.get("path") == ["value"]), None)
    if not data:
        return None
    fmt = html.escape(str(s.get("format", "png")))
    base64.b64decode(data, validate=True)  # a broken buffer fails here, not as a broken picture
    alt = str(s.get("tooltip") or s.get("description") or "").strip() or WIDGET_PICTURE_ALT
    if alt in omit_pictures or data in omit_pictures:
        return ('<p class="site-widget-same">The widget\'s picture is the figure above (in JupyterLab it '
                'redraws as you change the controls).</p>')
    return f'<img class="site-widget-image" alt="{html.escape(alt)}" src="data:image/{fmt};base64,{data}">'


def _figure_keys(output: Any) -> set[str]:
    """What identifies a PNG output's picture: its alt text (from its metadata) and its base64 data."""
    data = (output.get("data") or {}).get("image/png")
    if not data:
        return set()
    alt = ((output.get("metadata") or {}).get("image/png") or {}).get("alt") or \
        (output.get("metadata") or {}).get("alt")
    keys = {data.replace("\n", "") if isinstance(data, str) else ""}
    if isinstance(alt, str) and alt.strip():
        keys.add(alt.strip())
    return keys - {""}


def _without(text: str, repeated: list[str]) -> str:
    """``text`` (a stream output) with each of the ``repeated`` texts (and its newline) taken out once."""
    for t in repeated:
        text = text.replace(t + "\n", "", 1) if t + "\n" in text else text.replace(t, "", 1)
    return text


def static_widgets(nb: Any, texts: dict[str, list[str]] | None = None) -> int:
    """Replace every widget view in ``nb``'s outputs by its static snapshot; drop the widget state.

    ``texts`` (``{model_id: [text as printed, text shown at the end]}``, from :data:`FINISH_WIDGETS`): a
    stream output in a widget's own cell that repeats the widget's text is dropped (the snapshot shows it).
    A snapshot picture identical to the figure output just before it on the page is left out.
    Returns the number of widgets replaced. A view whose state is missing keeps its text/plain fallback.
    """
    state = (nb.metadata.get("widgets") or {}).get(WIDGET_STATE, {}).get("state", {})
    texts = texts or {}
    replaced = 0
    previous_figure: set[str] = set()
    for cell in nb.cells:
        views = [(o.get("data") or {})[WIDGET_VIEW].get("model_id", "") for o in cell.get("outputs", [])
                 if WIDGET_VIEW in (o.get("data") or {})]
        repeated = [t for m in views for t in texts.get(m, []) if t.strip()]
        if repeated:
            for o in cell.outputs:
                if o.get("output_type") == "stream":
                    o["text"] = _without(o.get("text", ""), repeated)
            cell.outputs = [o for o in cell.outputs if o.get("output_type") != "stream" or o["text"].strip()]
        for output in cell.get("outputs", []):
            data = output.get("data") or {}
            if WIDGET_VIEW not in data:
                previous_figure = _figure_keys(output) or previous_figure
                continue
            model_id = data[WIDGET_VIEW].get("model_id", "")
            rendered = static_widget_html(model_id, state, previous_figure)
            new = {k: v for k, v in data.items() if k != WIDGET_VIEW}
            if rendered is not None:
                new["text/html"] = (
                    '<div class="site-widget" title="A snapshot: run the notebook in JupyterLab to use it">'
                    f'{rendered}<p class="site-widget-note">Interactive in JupyterLab; a snapshot here.</p></div>'
                )
                replaced += 1
            output["data"] = new
    nb.metadata.pop("widgets", None)
    return replaced
