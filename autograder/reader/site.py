"""`backprop-course site`: the course as a static HTML site for self-paced readers.

Every source notebook is executed (hidden tests removed first: they are the instructor's), then exported
with nbconvert's ``lab`` template into ``OUT/<assignment>.html``:

* an answer cell shows the release stub (what a student starts from) with the worked solution folded
  under ``<details><summary>Solution</summary>``;
* widgets become static snapshots (their controls, picture and text as they were after the run, after
  ``show_final_state()`` for the widgets that have one: the backward stepper at its last step), so a page
  needs no widget JavaScript; a widget's text printed in its own cell is shown once (in the snapshot), and
  a snapshot picture that repeats the figure just above it is left out;
* pictures keep their alt text (``course_lib.drawing`` puts it in the output's metadata; a widget's
  picture takes its ``tooltip``);
* cells for later are folded: worked derivations and model answers (markdown ``<details>``, closed) and
  the source of code cells marked ``jupyter.source_hidden`` (the self-check helpers), under
  ``<details><summary>Helpers for the self-checks</summary>``;
* inline math never breaks across lines (a table scrolls sideways instead of wrapping ``dL/dy``);
* math is rendered by a local copy of MathJax 2.7 (from the ``jupyter-server-mathjax`` package) in
  ``OUT/mathjax/``; the template's require.js, widget manager and mermaid loaders are left out, so no page
  asks any other host for anything;
* every page has links to the previous and next notebook and to ``OUT/index.html``, which lists the
  notebooks in course order with their estimated times.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import html
import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jupyter_server_mathjax
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter
from nbconvert.filters import clean_html

from autograder.coursedir.course import NOTEBOOKS_DIR, source_assignments
from autograder.errors import CourseError
from autograder.notebook.cells import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    CODE_STUB,
    END_SOLUTION,
    meta,
    replace_regions,
    solution_text,
    strip_hidden_tests,
)

__all__ = [
    "CODE_STUB",
    "MARKDOWN_STUB",
    "Page",
    "SiteError",
    "build_site",
    "estimated_minutes",
    "find_pages",
    "mathjax_source",
    "notebook_title",
    "outside_urls",
    "prepare_notebook",
    "release_stub",
    "solution_text",
    "static_widget_html",
    "strip_hidden_tests",
]

#: What nbgrader puts in place of a code solution (the course's ``ClearSolutions.code_stub``).
#: What nbgrader puts in place of a written (markdown) answer.
MARKDOWN_STUB = "YOUR ANSWER HERE"


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MATHJAX_DIR = "mathjax"
#: The MathJax configuration the site loads (the files jupyter-server-mathjax ships).
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"


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


class SiteError(CourseError):
    """The site could not be built; the message says why."""


@dataclass(frozen=True)
class Page:
    """One notebook of the site: where it comes from and what the index says about it."""

    assignment: str
    source: Path
    slug: str
    title: str
    minutes: int | None

    @property
    def filename(self) -> str:
        """The page's file name inside the site folder."""
        return f"{self.slug}.html"


# --------------------------------------------------------------------------------------------------
# Source transformations (nbgrader's rules: autograder.notebook.cells)


def release_stub(source: str, cell_type: str = "code") -> str:
    """What the student's release shows for an answer cell: each solution block replaced by the stub.

    A cell without ``### BEGIN SOLUTION`` is replaced whole, as nbgrader does.
    """
    stub = CODE_STUB if cell_type == "code" else MARKDOWN_STUB
    if BEGIN_SOLUTION not in source:
        return stub
    return replace_regions(source, BEGIN_SOLUTION, END_SOLUTION, stub)


def prepare_notebook(nb: Any) -> Any:
    """A copy of source notebook ``nb`` ready to execute for the site.

    Hidden tests are removed from every cell. Each answer cell keeps its solution (so that the notebook
    runs) and records in ``cell.metadata.site`` the release stub and the solution to show.
    """
    nb = nbformat.from_dict(copy.deepcopy(dict(nb)))
    for cell in nb.cells:
        if BEGIN_HIDDEN in cell.source:
            cell.source = strip_hidden_tests(cell.source)
        if meta(cell).get("solution"):
            cell.metadata["site"] = {
                "stub": release_stub(cell.source, cell.cell_type),
                "solution": solution_text(cell.source),
            }
    return nb


# --------------------------------------------------------------------------------------------------
# What the index says: title and estimated time

_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.M)
_TIME = re.compile(r"Estimated time:?\**:?\s*(?:about\s+)?(\d+(?:\.\d+)?)\s*(hours?|h|minutes?|min)\b", re.I)


def notebook_title(nb: Any) -> str:
    """The notebook's first level-1 heading (markdown, math kept), or ``""`` if it has none."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = _H1.search(cell.source)
            if m:
                return m.group(1)
    return ""


def estimated_minutes(nb: Any) -> int | None:
    """The "Estimated time" that the notebook's first cell gives, in minutes (``None`` if it gives none)."""
    if not nb.cells:
        return None
    m = _TIME.search(nb.cells[0].source)
    if not m:
        return None
    value, unit = float(m.group(1)), m.group(2).lower()
    return round(value * 60) if unit.startswith("h") else round(value)


def _plain(title: str) -> str:
    """A title for ``<title>``: math delimiters and backslash commands dropped."""
    text = re.sub(r"\\([A-Za-z]+)", r"\1", title.replace("$", ""))
    return re.sub(r"\s+", " ", text).strip()


# --------------------------------------------------------------------------------------------------
# Widgets as static snapshots


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
        parts = []
        for child in s.get("children", []):
            ref = _model_ref(child)
            rendered = static_widget_html(ref, state, omit_pictures) if ref else None
            if rendered is None:
                return None
            parts.append(rendered)
        kind = "hbox" if name == "HBoxModel" else "vbox"
        return f'<div class="site-widget-{kind}">' + "".join(parts) + "</div>"
    if name in ("FloatSliderModel", "IntSliderModel"):
        value = s.get("value", 0)
        fmt = s.get("readout_format") or (".2f" if name == "FloatSliderModel" else "d")
        try:
            shown = format(value, fmt)
        except (TypeError, ValueError):
            shown = str(value)
        return (f'<label class="site-widget-slider">{desc} <input type="range" disabled min="{s.get("min", 0)}" '
                f'max="{s.get("max", 100)}" step="{s.get("step", 1)}" value="{value}"> '
                f"<output>{html.escape(shown)}</output></label>")
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
        data = next((b.get("data") for b in entry.get("buffers", []) if b.get("path") == ["value"]), None)
        if not data:
            return None
        fmt = html.escape(str(s.get("format", "png")))
        base64.b64decode(data, validate=True)  # a broken buffer fails here, not as a broken picture
        alt = str(s.get("tooltip") or s.get("description") or "").strip() or WIDGET_PICTURE_ALT
        if alt in omit_pictures or data in omit_pictures:
            return ('<p class="site-widget-same">The widget\'s picture is the figure above (in JupyterLab it '
                    'redraws as you change the controls).</p>')
        return (f'<img class="site-widget-image" alt="{html.escape(alt)}" '
                f'src="data:image/{fmt};base64,{data}">')
    return None


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


def _static_widgets(nb: Any, texts: dict[str, list[str]] | None = None) -> int:
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


# --------------------------------------------------------------------------------------------------
# Pages

_SITE_CSS = """
.site-nav { display: flex; gap: 1.5em; justify-content: space-between; align-items: baseline;
  padding: 0.6em 1em; margin: 0 0 1em 0; border-bottom: 1px solid #ddd;
  font-family: var(--jp-ui-font-family, sans-serif); font-size: 14px; background: #fafafa; }
.site-nav.bottom { border-top: 1px solid #ddd; border-bottom: none; margin: 2em 0 0 0; }
.site-nav a { text-decoration: none; color: #1565c0; }
.site-nav .site-nav-prev, .site-nav .site-nav-next { flex: 1 1 0; }
.site-nav .site-nav-next { text-align: right; }
details.site-solution { margin: 4px 0 4px 0; border: 1px solid #c8e6c9; border-radius: 3px; background: #f9fdf9; }
details.site-solution > summary { cursor: pointer; padding: 3px 8px; color: #2e7d32; font-weight: bold;
  font-family: var(--jp-ui-font-family, sans-serif); font-size: 13px; }
.site-answer { flex: 1 1 auto; min-width: 0; }
.site-widget { border: 1px dashed #bbb; padding: 6px; margin: 4px 0; }
.site-widget-hbox { display: flex; flex-flow: row wrap; gap: 8px; align-items: center; }
.site-widget-vbox { display: flex; flex-direction: column; gap: 4px; }
.site-widget-image { max-width: 100%; height: auto; align-self: flex-start; }
.site-widget .site-widget-html pre { font-family: var(--jp-code-font-family, monospace); font-size: 12px;
  line-height: 1.3; white-space: pre; margin: 0; }
.site-widget-note, .site-widget-same { color: #555; font-size: 12px; margin: 4px 0 0 0; font-style: italic; }
details.site-helpers { margin: 2px 0; }
details.site-helpers > summary { cursor: pointer; padding: 3px 8px; color: #37474f;
  font-family: var(--jp-ui-font-family, sans-serif); font-size: 13px; }
.jp-RenderedHTMLCommon details > summary { cursor: pointer; font-weight: bold; }
/* Inline math never breaks inside an expression; a table too wide for the screen scrolls sideways. */
.jp-RenderedHTMLCommon td .MathJax, .jp-RenderedHTMLCommon th .MathJax { white-space: nowrap; }
/* The scrolling box is the cell's wrapper, which nbconvert makes keyboard-focusable (tabindex=0). */
.jp-MarkdownCell .jp-Cell-inputWrapper { overflow-x: auto; }
.jp-MarkdownOutput.jp-RenderedHTMLCommon { overflow: visible !important; }
/* Contrast (WCAG AA, 4.5:1) for the prompts and the code colours of nbconvert's light theme (its
   stylesheet comes after this one, hence !important). */
.jp-InputPrompt, .jp-OutputPrompt { color: #5f5f5f !important; opacity: 1 !important; }
.highlight .c, .highlight .c1, .highlight .cm, .highlight .ch, .highlight .cs, .highlight .cp,
.highlight .cpf { color: #2e5c5c !important; }
.highlight .m, .highlight .mi, .highlight .mf, .highlight .mh, .highlight .mo, .highlight .mb,
.highlight .il { color: #006100 !important; }
.highlight .o, .highlight .ow { color: #7a16b8 !important; }
"""

_MATHJAX_HEAD = """
<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  tex2jax: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']],
            processEscapes: true, processEnvironments: true},
  TeX: {equationNumbers: {autoNumber: "AMS", useLabelIds: true}},
  "HTML-CSS": {availableFonts: [], webFont: "STIX-Web", imageFont: null, preferredFont: null,
               linebreaks: {automatic: false}},
  displayAlign: "center", messageStyle: "none"
});
</script>
<script src="__MATHJAX_URL__"></script>
<script>
// Math in a folded <details> is typeset while hidden (no size to measure): typeset it again when opened.
document.addEventListener("toggle", function (event) {
  var d = event.target;
  if (d.open && window.MathJax && MathJax.Hub) { MathJax.Hub.Queue(["Rerender", MathJax.Hub, d]); }
}, true);
</script>
<style type="text/css">
/* The hidden MathML copy for screen readers asks for MathJax's TeX web fonts, which the offline copy does
   not ship (STIX-Web draws the visible math): give it the system's serif font instead. */
.MJX_Assistive_MathML, .MJX_Assistive_MathML * { font-family: serif !important; }
</style>
"""

# Extends nbconvert's lab template: no require.js, no widget manager, no mermaid loader (each would come
# from a CDN); MathJax from the site's own copy; navigation; folded solutions.
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}{{ resources.site.mathjax_head }}{%- endblock html_head_js_mathjax -%}
{% block extra_css %}<style type="text/css">{{ resources.site.css }}</style>{% endblock extra_css %}
{%- block body_header -%}{{ super() }}{{ resources.site.nav_top }}{%- endblock body_header -%}
{% block body_footer %}{{ resources.site.nav_bottom }}{{ super() }}{% endblock body_footer %}
{% block input %}
{%- if cell.metadata.site is defined and cell.metadata.site -%}
<div class="site-answer">
{{ super() }}
<details class="site-solution"><summary>Solution</summary>
<div class="jp-CodeMirrorEditor jp-Editor jp-InputArea-editor" data-type="inline">
<div class="cm-editor cm-s-jupyter">
{{ cell.metadata.site.solution | highlight_code(metadata=cell.metadata) | clean_html }}
</div></div></details>
</div>
{%- elif cell.metadata.jupyter is defined and cell.metadata.jupyter.source_hidden -%}
<details class="site-helpers"><summary>Helpers for the self-checks</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{% endblock input %}
{% block data_png scoped %}
{%- set alt = (output | get_metadata('alt', 'image/png')) or (output.metadata.get('alt')) -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
alt="{{ (alt or 'A figure: the text printed below it describes it') | escape_html }}">
</div>
{%- endblock data_png %}
"""


def _mathjax_head() -> str:
    """The MathJax configuration and loader of a page in the site's top folder (the site's own copy)."""
    return _MATHJAX_HEAD.replace("__MATHJAX_URL__", f"{MATHJAX_DIR}/MathJax.js?config={MATHJAX_CONFIG}")


def _nav(pages: list[Page], i: int, where: str) -> str:
    def link(k: int, rel: str, arrow: str) -> str:
        if not 0 <= k < len(pages):
            return f'<span class="site-nav-{rel}"></span>'
        p = pages[k]
        text = f"{arrow} {html.escape(p.title)}" if rel == "prev" else f"{html.escape(p.title)} {arrow}"
        return f'<span class="site-nav-{rel}"><a rel="{rel}" href="{p.filename}">{text}</a></span>'

    label = "Course pages" if where == "top" else "Course pages (end of page)"
    return (f'<nav class="site-nav {where}" aria-label="{label}">{link(i - 1, "prev", "←")}'
            f'<span class="site-nav-index"><a href="index.html">Contents</a></span>{link(i + 1, "next", "→")}</nav>')


def _export(nb: Any, pages: list[Page], i: int) -> str:
    """The HTML of page ``i`` from its executed, prepared notebook."""

    for cell in nb.cells:
        site = cell.metadata.get("site")
        if site and cell.cell_type == "code":
            cell.source = site["stub"]
        elif site:  # a written answer: the stub, then the answer folded away, as markdown
            cell.source = (f"{site['stub']}\n\n<details class=\"site-solution\"><summary>Solution</summary>\n\n"
                           f"{site['solution']}\n\n</details>")
            cell.metadata.pop("site")
    nb.metadata["title"] = _plain(pages[i].title) or pages[i].slug
    exporter = HTMLExporter(template_name="lab", raw_template=_TEMPLATE, theme="light")
    resources = {"site": {"css": _SITE_CSS, "mathjax_head": _mathjax_head(),
                          "nav_top": _nav(pages, i, "top"), "nav_bottom": _nav(pages, i, "bottom")}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


def _index_html(pages: list[Page]) -> str:
    rows = []
    for n, p in enumerate(pages):
        minutes = f"{p.minutes} min" if p.minutes is not None else "—"
        rows.append(f'<tr><td>{n}</td><td><a href="{p.filename}">{html.escape(p.title)}</a></td>'
                    f"<td><code>{html.escape(p.assignment)}</code></td><td class=\"time\">{minutes}</td></tr>")
    known = [p.minutes for p in pages if p.minutes is not None]
    total = sum(known)
    total_text = f"{total // 60} h {total % 60:02d} min" if total >= 60 else f"{total} min"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Backpropagation, from the chain rule up</title>
{_mathjax_head()}
<style>
body {{ font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; max-width: 880px;
  margin: 2em auto; padding: 0 1em; line-height: 1.5; color: #222; }}
table {{ border-collapse: collapse; width: 100%; margin: 1em 0; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.5em; text-align: left; vertical-align: top; }}
td.time, th.time {{ text-align: right; white-space: nowrap; }}
a {{ color: #1565c0; }}
.note {{ color: #555; font-size: 0.95em; }}
</style>
</head>
<body>
<main>
<h1>Backpropagation, from the chain rule up</h1>
<p>A self-paced course: the chain rule on scalar compositions, a chain of sigmoid neurons with a
$-\\log$ loss, a network in which one weight reaches the loss along several paths, and all parameters
$\\theta$ at once with the update $w' = w - \\eta\\,\\partial L/\\partial w$. Work through the notebooks in order.</p>
<table id="contents">
<thead><tr><th>#</th><th>notebook</th><th>folder</th><th class="time">estimated time</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
<tfoot><tr><td></td><td>in all</td><td></td><td class="time">{total_text}</td></tr></tfoot>
</table>
<p class="note">Each exercise shows the code a student starts from; the worked solution is folded under
<em>Solution</em>: try first, then open it. Worked derivations, model answers and the self-checks' helper
code are folded the same way. The interactive widgets are shown as snapshots here: to move the
sliders yourself, run the notebooks in JupyterLab (<code>backprop-course lab</code>, see the README).</p>
</main>
</body>
</html>
"""


# --------------------------------------------------------------------------------------------------
# Building


def mathjax_source() -> Path:
    """The folder of MathJax 2.7 files that the ``jupyter-server-mathjax`` package ships."""
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (static / "MathJax.js").is_file() or not (static / "config" / "TeX-AMS-MML_HTMLorMML-full.js").is_file():
        raise SiteError(f"{static} does not hold MathJax 2.7 (MathJax.js and its TeX config)")
    return static


def find_pages(notebooks: Path = NOTEBOOKS_DIR) -> list[Page]:
    """The site's pages: every notebook of every assignment folder, in course order."""
    pages = []
    for assignment in source_assignments(notebooks, graded_only=False):
        files = sorted((notebooks / assignment).glob("*.ipynb"))
        for path in files:
            nb = nbformat.read(path, as_version=4)
            slug = assignment if len(files) == 1 else f"{assignment}-{path.stem}"
            pages.append(Page(assignment, path, slug, notebook_title(nb) or path.stem, estimated_minutes(nb)))
    if not pages:
        raise SiteError(f"no notebooks in {notebooks}: expected folders like notebooks/01-chain-rule/*.ipynb")
    return pages


async def _execute_all(pages: list[Page], workdir: Path, jobs: int, timeout: int,
                       progress: Callable[[str], None]) -> list[tuple[Any, dict[str, list[str]]]]:

    gate = asyncio.Semaphore(max(1, jobs))

    async def run(page: Page) -> Any:
        async with gate:
            folder = workdir / page.slug
            shutil.copytree(page.source.parent, folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
            nb = prepare_notebook(nbformat.read(page.source, as_version=4))
            finish = nbformat.v4.new_code_cell(FINISH_WIDGETS)
            nb.cells.append(finish)  # runs last, in the same kernel; taken out again below
            started = time.monotonic()
            client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                                    resources={"metadata": {"path": str(folder)}})
            try:
                await client.async_execute()
            except CellExecutionError as err:
                raise SiteError(f"{page.source} failed while building the site:\n{err}") from err
            nb.cells.remove(finish)
            printed = "".join(o.get("text", "") for o in finish.outputs if o.get("output_type") == "stream")
            try:
                texts = json.loads(printed)
            except ValueError as err:
                raise SiteError(f"{page.source}: could not read the widgets' texts after the run: {printed[:300]!r}") \
                    from err
            progress(f"  executed {page.slug} in {time.monotonic() - started:.1f} s")
            return nb, texts

    return list(await asyncio.gather(*(run(p) for p in pages)))


def build_site(
    out: Path = Path("site"),
    notebooks: Path = NOTEBOOKS_DIR,
    *,
    jobs: int = 2,
    timeout: int = 300,
    progress: Callable[[str], None] = print,
) -> Path:
    """Build the static site in ``out`` (replacing an earlier build there); returns ``out/index.html``.

    Args:
        out: the site folder; everything it needs is inside it.
        notebooks: the source notebooks, one folder per assignment.
        jobs: notebooks executed at once.
        timeout: seconds one cell may run.
        progress: called with a line of progress at each step.
    """
    pages = find_pages(notebooks)
    mathjax = mathjax_source()
    progress(f"executing {len(pages)} notebook(s), {jobs} at a time")
    with tempfile.TemporaryDirectory(prefix="backprop-site-") as tmp:
        executed = asyncio.run(_execute_all(pages, Path(tmp), jobs, timeout, progress))
    out = Path(out)
    staging = out.with_name(out.name + ".part")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for i, (nb, texts) in enumerate(executed):
        n_widgets = _static_widgets(nb, texts)
        page_html = _export(nb, pages, i)
        if outside_urls(page_html):
            raise SiteError(f"{pages[i].filename} would load from other hosts: {outside_urls(page_html)[:5]}")
        (staging / pages[i].filename).write_text(page_html, encoding="utf-8")
        progress(f"  wrote {pages[i].filename}" + (f" ({n_widgets} widget snapshot(s))" if n_widgets else ""))
    (staging / "index.html").write_text(_index_html(pages), encoding="utf-8")
    shutil.copytree(mathjax, staging / MATHJAX_DIR)
    if out.exists():
        shutil.rmtree(out)
    staging.replace(out)
    return out / "index.html"


def outside_urls(text: str, allowed: Iterable[str] = ()) -> list[str]:
    """The ``http(s)://`` URLs that ``text`` loads from (``src=``, ``href=`` of stylesheets, CSS ``url()``,
    ``import``), other than those starting with one of ``allowed``."""
    found = re.findall(r"""(?:src\s*=\s*["']|url\(\s*["']?|import\s*\(?\s*["']|<link[^>]+href\s*=\s*["'])"""
                       r"""(https?://[^"')\s]+)""", text, flags=re.I)
    return [u for u in found if not any(u.startswith(a) for a in allowed)]
