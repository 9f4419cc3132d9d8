"""Feed HTML -> a short plain-Markdown summary, with the full text one click away.

Feed descriptions are HTML written for web pages: scripts, styles, tracking pixels,
share buttons, whole articles. An item summary is a few sentences of Markdown (raw
HTML is never passed through to the email), so this module keeps only text, emphasis,
links and lists, drops every image from the text (a described image may become the
item's `image`), and trims to about 80-120 words at a sentence or paragraph boundary.
The item's "Read the ..." link carries the reader to the full text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["Picture", "Summary", "convert_html", "plain_text", "strip_tracking", "text_to_html"]

MIN_WORDS = 80
MAX_WORDS = 120

# Elements whose content is never text a reader should see.
_DROP = {
    "script", "style", "noscript", "iframe", "object", "template", "head", "title", "svg",
    "math", "form", "select", "textarea", "button", "video", "audio", "canvas", "map",
}
_BLOCK = {
    "p", "div", "section", "article", "aside", "header", "footer", "main", "nav", "h1", "h2",
    "h3", "h4", "h5", "h6", "pre", "table", "tr", "dl", "dt", "dd", "figure", "figcaption",
    "hr", "address", "details", "summary", "center",
}
_STRONG = {"strong", "b"}
_EM = {"em", "i", "cite"}
_CODE = {"code", "kbd", "samp", "tt"}
_TRACKING_PARAMS = re.compile(r"^(utm_[a-z_]+|mc_cid|mc_eid|fbclid|gclid|_hsenc|_hsmi)$", re.IGNORECASE)
_PIXEL_HINTS = re.compile(r"(pixel|beacon|/track|tracking|/open\b|feedburner|doubleclick|stats\.wp)", re.IGNORECASE)


@dataclass(frozen=True)
class Picture:
    """An image found in the entry's HTML that is not a tracking pixel."""

    src: str
    alt: str


@dataclass(frozen=True)
class Summary:
    markdown: str  # trimmed, ready for the item's `summary`
    text: str  # the whole description as plain text, for theme keywords
    words: int  # words in the whole description
    trimmed: bool  # the Markdown leaves part of the description out
    pictures: tuple[Picture, ...] = ()


@dataclass
class _Span:
    text: str
    strong: bool = False
    em: bool = False
    code: bool = False
    href: str | None = None

    @property
    def style(self) -> tuple[bool, bool, bool, str | None]:
        return (self.strong, self.em, self.code, self.href)


@dataclass
class _Block:
    kind: str = "p"  # p | li | quote
    marker: str = ""  # "- " or "3. " for list items
    spans: list[_Span] = field(default_factory=list)

    @property
    def words(self) -> int:
        return len("".join(s.text for s in self.spans).split())


def strip_tracking(url: str) -> str:
    """`url` without utm_* and similar click-tracking query parameters."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING_PARAMS.match(k)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _web_url(url: str | None) -> str | None:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme.lower() in ("http", "https") and parts.hostname and not any(c.isspace() for c in url):
        return strip_tracking(url)
    return None


def _is_pixel(attrs: dict[str, str]) -> bool:
    """Tracking pixels: tiny or hidden images, or sources that look like beacons."""
    for key in ("width", "height"):
        size = re.match(r"\s*(\d+)", attrs.get(key, ""))
        if size and int(size[1]) <= 2:
            return True
    style = attrs.get("style", "").replace(" ", "").lower()
    if "display:none" in style or re.search(r"(width|height):[012]px", style):
        return True
    return bool(_PIXEL_HINTS.search(attrs.get("src", "")))


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[_Block] = []
        self.pictures: list[Picture] = []
        self.block = _Block()
        self.dropping: list[str] = []
        self.strong = self.em = self.code = 0
        self.links: list[str | None] = []
        self.lists: list[list[int]] = []  # [ordered, items so far] per open ul/ol
        self.quotes = 0

    def _end_block(self) -> None:
        if "".join(s.text for s in self.block.spans).strip():
            self.blocks.append(self.block)
        self.block = _Block("quote" if self.quotes else "p")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.dropping:
            if tag == self.dropping[-1] or tag in _DROP:
                self.dropping.append(tag)
            return
        values = {k.lower(): v or "" for k, v in attrs}
        if tag in _DROP:
            self.dropping.append(tag)
        elif tag == "img":
            self._image(values)
        elif tag == "br":
            self._end_block()
        elif tag in ("ul", "ol"):
            self._end_block()
            self.lists.append([int(tag == "ol"), 0])
        elif tag == "li":
            self._end_block()
            current = self.lists[-1] if self.lists else [0, 0]
            current[1] += 1
            self.block = _Block("li", f"{current[1]}. " if current[0] else "- ")
        elif tag == "blockquote":
            self._end_block()
            self.quotes += 1
            self.block = _Block("quote")
        elif tag in _BLOCK:
            self._end_block()
        elif tag == "a":
            self.links.append(_web_url(values.get("href")))
        self._format(tag, +1)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP:  # <iframe/> and friends hold nothing
            return
        self.handle_starttag(tag, attrs)
        if tag not in ("img", "br", "hr"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.dropping:
            if tag == self.dropping[-1]:
                self.dropping.pop()
            return
        if tag in ("ul", "ol"):
            self._end_block()
            if self.lists:
                self.lists.pop()
        elif tag == "blockquote":
            self._end_block()
            self.quotes = max(0, self.quotes - 1)
            self.block = _Block("quote" if self.quotes else "p")
        elif tag in _BLOCK or tag == "li":
            self._end_block()
        elif tag == "a" and self.links:
            self.links.pop()
        self._format(tag, -1)

    def _format(self, tag: str, step: int) -> None:
        if tag in _STRONG:
            self.strong = max(0, self.strong + step)
        elif tag in _EM:
            self.em = max(0, self.em + step)
        elif tag in _CODE:
            self.code = max(0, self.code + step)

    def _image(self, attrs: dict[str, str]) -> None:
        src = _web_url(attrs.get("src"))
        alt = " ".join(attrs.get("alt", "").split())
        if src and alt and not _is_pixel(attrs):
            self.pictures.append(Picture(src, alt))

    def handle_data(self, data: str) -> None:
        if self.dropping:
            return
        text = re.sub(r"\s+", " ", data)
        href = next((h for h in reversed(self.links) if h), None) if self.links else None
        self.block.spans.append(_Span(text, self.strong > 0, self.em > 0, self.code > 0, href))

    def result(self) -> list[_Block]:
        self.close()
        self._end_block()
        return self.blocks


# Lines blog software appends to every excerpt; the item's own link replaces them.
_BOILERPLATE = re.compile(
    r"^(the post .+ appeared first on .+|continue reading.*|read more\W*|read the full (post|article|story)\W*"
    r"|\[?(…|\.\.\.)\]?)$", re.IGNORECASE)
_TRAILING_MORE = re.compile(r"\s*\[(…|\.\.\.)\]\s*$")


def _parse(markup: str) -> tuple[list[_Block], list[Picture]]:
    converter = _Converter()
    converter.feed(markup)
    blocks = [b for b in converter.result()
              if not _BOILERPLATE.match(" ".join("".join(s.text for s in b.spans).split()))]
    if blocks and blocks[-1].spans and _TRAILING_MORE.search(blocks[-1].spans[-1].text):
        last = blocks[-1].spans[-1]
        last.text = _TRAILING_MORE.sub("…", last.text)
    return blocks, converter.pictures


def text_to_html(text: str) -> str:
    """Plain text (a text/plain description) as HTML paragraphs, for one conversion path."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs if p.strip())


def plain_text(markup: str) -> str:
    """The visible text of an HTML fragment on one line: titles, keyword matching."""
    blocks, _ = _parse(markup)
    return " ".join(" ".join("".join(s.text for s in b.spans).split()) for b in blocks)


# --- trimming -------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*$")


def _cut_block(block: _Block, budget: int, *, whole_sentences: bool = False) -> _Block | None:
    """The block's first `budget` words, ending at a sentence end when one is near;
    with `whole_sentences`, None unless it can end at a sentence end."""
    tokens: list[tuple[int, str]] = []
    for index, span in enumerate(block.spans):
        tokens.extend((index, tok) for tok in re.findall(r"\S+|\s+", span.text))
    kept: list[tuple[int, str]] = []
    words = 0
    last_sentence = 0
    for index, tok in tokens:
        if not tok.isspace():
            if words == budget:
                break
            words += 1
        kept.append((index, tok))
        if not tok.isspace() and _SENTENCE_END.search(tok):
            last_sentence = len(kept)
    ellipsis = False
    if last_sentence and (whole_sentences or last_sentence >= len(kept) // 2):
        kept = kept[:last_sentence]
    elif whole_sentences:
        return None
    else:
        ellipsis = True
    spans = [_Span("", *block.spans[i].style) for i in range(len(block.spans))]
    for index, tok in kept:
        spans[index].text += tok
    spans = [s for s in spans if s.text]
    if ellipsis and spans:
        spans[-1].text = spans[-1].text.rstrip() + "…"
    return _Block(block.kind, block.marker, spans)


def _trim(blocks: list[_Block], min_words: int, max_words: int) -> tuple[list[_Block], bool]:
    """Whole blocks until `min_words`, then stop at a block or sentence end; never more
    than `max_words`, cutting mid-sentence (with an ellipsis) only when nothing else fits."""
    kept: list[_Block] = []
    total = 0
    for block in blocks:
        if total >= min_words:
            return kept, True
        if total + block.words > max_words:
            part = _cut_block(block, max_words - total, whole_sentences=True)
            if part is not None and (total == 0 or part.words + total >= min_words):
                kept.append(part)
            elif total < min_words // 2:
                kept.append(_cut_block(block, max_words - total) or block)
            return kept, True
        kept.append(block)
        total += block.words
    return kept, False


# --- Markdown out ---------------------------------------------------------------------

_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<])")
_ENTITY_LIKE = re.compile(r"&(?=#?\w+;)")
_LINE_START = re.compile(r"^(#{1,6}(?=\s|$)|>|[-+=](?=\s|$))")
_ORDERED_START = re.compile(r"^(\d+)([.)])(?=\s|$)")


def _escape(text: str) -> str:
    return _ENTITY_LIKE.sub(r"\\&", _INLINE_SPECIAL.sub(r"\\\1", text))


def _href(url: str) -> str:
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _inline(spans: list[_Span]) -> str:
    merged: list[_Span] = []
    for span in spans:
        if merged and merged[-1].style == span.style:
            merged[-1] = _Span(merged[-1].text + span.text, *span.style)
        else:
            merged.append(_Span(span.text, *span.style))
    out = []
    for span in merged:
        core = span.text.strip()
        lead = " " if span.text[:1].isspace() else ""
        tail = " " if span.text[-1:].isspace() else ""
        if not core:
            out.append(lead or tail)
            continue
        if span.code and "`" not in core:
            core = f"`{core}`"
        else:
            core = _escape(core)
            if span.em:
                core = f"*{core}*"
            if span.strong:
                core = f"**{core}**"
        if span.href:
            core = f"[{core}]({_href(span.href)})"
        out.append(f"{lead}{core}{tail}")
    return re.sub(r" {2,}", " ", "".join(out)).strip()


def _markdown(blocks: list[_Block]) -> str:
    parts: list[str] = []
    previous = ""
    for block in blocks:
        text = _inline(block.spans)
        text = _ORDERED_START.sub(r"\1\\\2", _LINE_START.sub(r"\\\1", text))
        if block.kind == "li":
            text = block.marker + text
        elif block.kind == "quote":
            text = "> " + text
        joiner = "\n" if previous == block.kind and block.kind in ("li", "quote") else "\n\n"
        if block.kind == "quote" and previous == "quote":
            joiner = "\n>\n"
        parts.append((joiner if parts else "") + text)
        previous = block.kind
    return "".join(parts)


def convert_html(markup: str, *, min_words: int = MIN_WORDS, max_words: int = MAX_WORDS) -> Summary:
    """A feed description (HTML) as a trimmed Markdown summary, plus what it left out."""
    blocks, pictures = _parse(markup)
    text = " ".join(" ".join("".join(s.text for s in b.spans).split()) for b in blocks)
    kept, trimmed = _trim(blocks, min_words, max_words)
    return Summary(_markdown(kept), text, len(text.split()), trimmed, tuple(dict.fromkeys(pictures)))
