"""The site's HTML: each course page through nbconvert, and the start page, from the templates in ``templates/``.

``templates/page.html.j2`` extends nbconvert's ``lab`` template (no require.js, widget manager or mermaid
loader, each of which would come from a CDN; MathJax from the site's own copy; navigation; folded
solutions), ``templates/site.css`` is its extra stylesheet, ``templates/mathjax_head.html.j2`` loads the
site's MathJax, and ``templates/start.html.j2`` is ``index.html``. They ship inside the package
(``pyproject.toml``'s package data).

What the start page says of each notebook (points, estimated time) comes from the notebook's metadata
(``metadata.syllabus.points`` and ``.minutes``, as the notebooks store them) where it has them, else from
what its header states: the points of its graded cells and its "Estimated time".
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from nbconvert import HTMLExporter

from autograder.notebook.cells import points

__all__ = [
    "MATHJAX_CONFIG",
    "MATHJAX_DIR",
    "TEMPLATES",
    "Page",
    "course_page",
    "estimated_minutes",
    "notebook_points",
    "notebook_title",
    "start_page",
]

TEMPLATES = Path(__file__).parent / "templates"
MATHJAX_DIR = "mathjax"
#: The MathJax configuration the site loads (the files jupyter-server-mathjax ships).
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
#: Where a notebook's own facts live in its metadata (written by the course's authors).
META_KEY = "syllabus"
TITLE = "Backpropagation, from the chain rule up"


@dataclass(frozen=True)
class Page:
    """One notebook of the site: where it comes from and what the start page says about it."""

    assignment: str
    source: Path
    slug: str
    title: str
    minutes: int | None
    points: float | None = None

    @property
    def filename(self) -> str:
        """The page's file name inside the site folder."""
        return f"{self.slug}.html"


# --------------------------------------------------------------------------------------------------
# What the start page says: title, points and estimated time

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


def _meta(nb: Any, key: str) -> float | None:
    value = (nb.metadata.get(META_KEY) or {}).get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def estimated_minutes(nb: Any) -> int | None:
    """The notebook's estimated time in minutes: its metadata's, else the "Estimated time" its first cell
    gives (``None`` if neither)."""
    from_meta = _meta(nb, "minutes")
    if from_meta is not None:
        return round(from_meta)
    if not nb.cells:
        return None
    m = _TIME.search(nb.cells[0].source)
    if not m:
        return None
    value, unit = float(m.group(1)), m.group(2).lower()
    return round(value * 60) if unit.startswith("h") else round(value)


def notebook_points(nb: Any) -> float | None:
    """The notebook's points: its metadata's, else the sum over its graded cells (``None``: practice)."""
    from_meta = _meta(nb, "points")
    if from_meta is not None:
        return from_meta
    total = sum(points(c) for c in nb.cells)
    return total or None


def _plain(title: str) -> str:
    """A title for ``<title>``: math delimiters and backslash commands dropped."""
    text = re.sub(r"\\([A-Za-z]+)", r"\1", title.replace("$", ""))
    return re.sub(r"\s+", " ", text).strip()


# --------------------------------------------------------------------------------------------------
# Templates


@cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def mathjax_head() -> str:
    """The MathJax configuration and loader of a page in the site's top folder (the site's own copy)."""
    url = f"{MATHJAX_DIR}/MathJax.js?config={MATHJAX_CONFIG}"
    return _templates().get_template("mathjax_head.html.j2").render(mathjax_url=url)


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


def course_page(nb: Any, pages: list[Page], i: int) -> str:
    """The HTML of page ``i`` from its executed, prepared notebook (``autograder.reader.site``)."""
    for cell in nb.cells:
        site = cell.metadata.get("site")
        if site and cell.cell_type == "code":
            cell.source = site["stub"]
        elif site:  # a written answer: the stub, then the answer folded away, as markdown
            cell.source = (f"{site['stub']}\n\n<details class=\"site-solution\"><summary>Solution</summary>\n\n"
                           f"{site['solution']}\n\n</details>")
            cell.metadata.pop("site")
    nb.metadata["title"] = _plain(pages[i].title) or pages[i].slug
    exporter = HTMLExporter(template_name="lab", extra_template_paths=[str(TEMPLATES)],
                            template_file="page.html.j2", theme="light")
    resources = {"site": {"css": (TEMPLATES / "site.css").read_text(encoding="utf-8"),
                          "mathjax_head": mathjax_head(),
                          "nav_top": _nav(pages, i, "top"), "nav_bottom": _nav(pages, i, "bottom")}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


def _duration(minutes: int) -> str:
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def start_page(pages: list[Page], *, solutions: bool, downloads: dict[str, list[str]] | None = None,
               wheel: str | None = None) -> str:
    """``index.html``: the contents with points and times; on the self-paced site, the downloads.

    ``downloads`` maps a page's slug to the site-relative paths of its files; ``wheel`` is the site-relative
    path of the ``course_lib`` wheel (both ``None`` on a class's site).
    """
    rows = []
    for p in pages:
        files = (downloads or {}).get(p.slug, [])
        rows.append({"href": p.filename, "title": p.title,
                     "points": f"{p.points:g}" if p.points else "practice",
                     "time": f"{p.minutes} min" if p.minutes is not None else "—",
                     "downloads": [{"href": f, "name": Path(f).name} for f in files]})
    return _templates().get_template("start.html.j2").render(
        title=TITLE, mathjax_head=Markup(mathjax_head()), solutions=solutions,
        downloads=downloads is not None, rows=rows,
        total_points=f"{sum(p.points or 0 for p in pages):g}",
        total_time=_duration(sum(p.minutes for p in pages if p.minutes is not None)),
        wheel=wheel or "", wheel_name=Path(wheel).name if wheel else "")
