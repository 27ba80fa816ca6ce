"""safe_markdown (feedback pages) against a real renderer and sanitiser, for arbitrary student text.

The oracle: render ``safe_markdown(text)`` with mistune allowing raw HTML (as nbgrader's feedback template
renders markdown: nbconvert's ``markdown2html``, itself mistune, without its sanitiser), then sanitise that
HTML with nh3 (ammonia). Whatever nh3 would drop (a script or any tag outside its list, an ``on*``
attribute, a ``javascript:``/``data:`` URL, a comment) must not be in our rendering at all; and no raw HTML
may pass through (mistune rendering with raw HTML escaped gives the same page).
"""

from __future__ import annotations

from html.parser import HTMLParser

import mistune
import nh3
from hypothesis import given
from hypothesis import strategies as st
from nbconvert.filters.markdown import markdown2html

from autograder.grading.feedback import safe_markdown

# What the renderers themselves write for markdown syntax (not raw HTML): highlight classes, table
# alignment, task-list checkboxes. nh3's defaults would drop these although no student typed them as HTML.
TAGS = set(nh3.ALLOWED_TAGS) | {"input"}
ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
ATTRIBUTES["*"] = {"class"}
ATTRIBUTES["input"] = {"type", "disabled", "checked"}
for heading in ("h1", "h2", "h3", "h4", "h5", "h6"):
    ATTRIBUTES[heading] = {"id"}  # nbconvert's anchor for each heading
for cell in ("td", "th"):
    ATTRIBUTES[cell] = ATTRIBUTES.get(cell, set()) | {"style"}

# Pieces of markdown and HTML an attacker (or a typo) strings together; plain text fills the rest.
PIECES = [
    "<", ">", "</", "/>", "<!--", "-->", "<!", "<?", "<![CDATA[", "script", "img", "svg", "iframe", "a", "b",
    "style", " onerror=", " onload=", " href=", " src=", '"', "'", "=", "javascript:", "JaVaScRiPt:", "java",
    "script:", "vbscript:", "data:text/html,", "&", "&#", "&#x", "106;", "115;", "6a;", "&colon;", "&lt;",
    "(", ")", "[", "]", "![", "](", "]: ", "[r]", "\n[r]: ", "<http://x.org>", "<mailto:a@b.c>", "//", "\\",
    ":", "#", " ", "\n", "\n\n", "\t", "`", "```", "    ", "*", "_", "|", "-", "%3A", "\x00", "\u200b",
    "http://x.org", "https://", "mailto:", "x", "alert(1)",
]
TEXT = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=24).map("".join)


class _Tags(HTMLParser):
    """Every start tag with its attributes (values decoded), and every comment, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, tuple(sorted((k, v or "") for k, v in attrs))))

    handle_startendtag = handle_starttag

    def handle_comment(self, data: str) -> None:
        self.found.append(("<!--", data))

    def handle_pi(self, data: str) -> None:
        self.found.append(("<?", data))

    def unknown_decl(self, data: str) -> None:
        self.found.append(("<!", data))


def _tags(html: str) -> list[tuple]:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser.found


def _sanitised(html: str) -> str:
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, link_rel=None,
                     filter_style_properties={"text-align"})


PLUGINS = ["strikethrough", "table", "url", "task_lists"]

# raw HTML and every link target kept, as nbconvert's renderer keeps them (mistune's default would turn a
# javascript: link into #harmful-link and hide what safe_markdown let through)
RAW = mistune.create_markdown(renderer=mistune.HTMLRenderer(escape=False, allow_harmful_protocols=True),
                              plugins=PLUGINS)
TOKENS = mistune.create_markdown(renderer="ast", plugins=PLUGINS)


def _raw_html(tokens: list[dict]) -> list[str]:
    """The raw HTML mistune found in the markdown (it would pass it through to the page)."""
    found = []
    for token in tokens:
        if token.get("type") in ("inline_html", "block_html"):
            found.append(token.get("raw", ""))
        found += _raw_html(token.get("children") or [])
    return found


URL_ATTRIBUTES = {"href", "src", "cite"}


def _scheme(url: str) -> str:
    """The scheme a browser would see (control characters and spaces are dropped first, as browsers do)."""
    url = "".join(ch for ch in url if ord(ch) > 32 and ord(ch) != 127)
    head = url.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return head.split(":", 1)[0].lower() if ":" in head else ""


def _without_urls_of_safe_scheme(tags: list[tuple]) -> list[tuple]:
    """Tags with their attributes' names, URL attributes left out where the scheme is safe (nh3 also drops a
    URL whose *host* is malformed, say ``http://x.org%3E``, and rewrites a control character in a class name:
    harmless, and not what this test is about)."""
    return [(t, tuple(a[0] for a in attrs if a[0] not in URL_ATTRIBUTES or _scheme(a[1]) not in SAFE_SCHEMES))
            if t != "<!--" else (t, attrs) for t, attrs in tags]


SAFE_SCHEMES = {"", "http", "https", "mailto"}


def _assert_nothing_to_drop(html: str, source: str) -> None:
    ours, clean = _tags(html), _tags(_sanitised(html))
    assert _without_urls_of_safe_scheme(ours) == _without_urls_of_safe_scheme(clean), (
        f"nh3 would change {source!r}:\n{html}\n-> {_sanitised(html)}")
    for _, attrs in ours:
        for name, value in attrs if isinstance(attrs, tuple) else ():
            assert not name.startswith("on"), f"{name} attribute from {source!r}: {html}"
            if name in URL_ATTRIBUTES:
                assert _scheme(value) in SAFE_SCHEMES, f"{value!r} from {source!r}: {html}"


@given(TEXT)
def test_nh3_drops_nothing_from_the_mistune_rendering(text):
    safe = safe_markdown(text)
    _assert_nothing_to_drop(RAW(safe), text)


@given(TEXT)
def test_nh3_drops_nothing_from_nbconverts_rendering(text):
    """nbconvert's markdown2html: what nbgrader's feedback template uses for markdown cells."""
    _assert_nothing_to_drop(markdown2html(safe_markdown(text)), text)


def test_a_removed_link_target_never_becomes_a_heading():
    """Found by the properties: a target on the line after its label was replaced in place, and nbconvert
    reads a line starting ``#link-removed-by-the-grader`` as a heading the student never wrote."""
    html = markdown2html(safe_markdown("<\n[r]: \n[r]: "))
    assert "<h1" not in html
    html = markdown2html(safe_markdown("[x][r]\n\n[r]:\njavascript:alert(1)"))
    assert "javascript" not in html and "<h1" not in html and 'href="#link-removed-by-the-grader"' in html


@given(TEXT)
def test_no_raw_html_passes_through(text):
    safe = safe_markdown(text)
    assert not _raw_html(TOKENS(safe)), f"raw HTML in safe_markdown({text!r}) = {safe!r}"


def test_the_oracle_catches_what_safe_markdown_must_remove():
    """Without safe_markdown, the oracle fails on each kind of attack (so the properties can fail)."""
    for attack in ["<script>alert(1)</script>", '<img src=x onerror="alert(1)">', "[x](javascript:alert(1))",
                   "<!-- hidden -->", "![x](data:text/html,<script>alert(1)</script>)"]:
        html = RAW(attack)
        assert _tags(html) != _tags(_sanitised(html)), attack
    assert _raw_html(TOKENS("a <b>bold</b> word")) == ["<b>", "</b>"]
    assert _raw_html(TOKENS("<div>\nblock\n</div>"))
