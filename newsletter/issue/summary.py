"""Item summaries: Markdown in, safe HTML and plain text out.

markdown-it-py in its CommonMark preset with raw HTML disabled, so `<script>` in a
summary shows as text. The plain-text rendering writes every link out, because the text
part of an email has no hyperlinks.
"""

from __future__ import annotations

import re
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

__all__ = ["TEASER_WORDS", "shorten_summary", "summary_html", "summary_links", "summary_text", "teaser"]

_ALLOWED_SCHEMES = ("http://", "https://", "mailto:")


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.validateLink = lambda url: url.strip().lower().startswith(_ALLOWED_SCHEMES)  # type: ignore[method-assign]
    return md


@lru_cache(maxsize=4096)  # pure; every theme variant of an issue renders the same items
def summary_html(markdown: str) -> str:
    return _parser().render(markdown).strip()


def summary_links(markdown: str) -> list[tuple[str, str]]:
    """(text, url) of every link in the summary, in order."""
    links = []
    for block in _parser().parse(markdown):
        for token, text in _inline_links(block.children or []):
            links.append((text, str(token.attrGet("href") or "")))
    return links


def _inline_links(children: list[Token]) -> list[tuple[Token, str]]:
    found: list[tuple[Token, str]] = []
    open_link: Token | None = None
    text = ""
    for token in children:
        if token.type == "link_open":
            open_link, text = token, ""
        elif token.type == "link_close" and open_link is not None:
            found.append((open_link, text))
            open_link = None
        elif open_link is not None and token.type in ("text", "code_inline"):
            text += token.content
    return found


@lru_cache(maxsize=4096)  # pure; every theme variant of an issue renders the same items
def summary_text(markdown: str) -> str:
    """Plain text, paragraphs separated by blank lines, links written as `text (url)`."""
    blocks: list[str] = []
    prefix = ""
    ordinal: list[int] = []
    for token in _parser().parse(markdown):
        if token.type == "bullet_list_open":
            ordinal.append(0)
        elif token.type == "ordered_list_open":
            ordinal.append(1)
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            ordinal.pop()
        elif token.type == "list_item_open":
            if ordinal and ordinal[-1]:
                prefix = f"{ordinal[-1]}. "
                ordinal[-1] += 1
            else:
                prefix = "- "
        elif token.type == "inline":
            line = _inline_text(token.children or [])
            if prefix:
                blocks.append(prefix + line)
                prefix = ""
            else:
                blocks.append(line)
        elif token.type in ("code_block", "fence"):
            blocks.append(token.content.rstrip("\n"))
    return _join_blocks(blocks)


def _join_blocks(blocks: list[str]) -> str:
    out: list[str] = []
    for block in blocks:
        is_item = block.startswith("- ") or block[:3].rstrip(". ").isdigit()
        if out and is_item and (out[-1].startswith("- ") or out[-1][:1].isdigit()):
            out[-1] += "\n" + block
        else:
            out.append(block)
    return "\n\n".join(out)


def _inline_text(children: list[Token]) -> str:
    parts: list[str] = []
    href: str | None = None
    link_text = ""
    for token in children:
        if token.type == "link_open":
            href, link_text = str(token.attrGet("href") or ""), ""
        elif token.type == "link_close":
            url = str(href)
            parts.append(link_text if link_text.strip() == url.removeprefix("mailto:") or link_text == url
                         else f"{link_text} ({url})")
            href = None
        elif token.type in ("text", "code_inline"):
            if href is not None:
                link_text += token.content
            else:
                parts.append(token.content)
        elif token.type == "softbreak":
            parts.append(" ")
        elif token.type == "hardbreak":
            parts.append("\n")
        elif token.type == "image":
            parts.append(token.content or "")
    return "".join(parts).strip()


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\u201d\u2019]?\s+(?=[A-Z0-9\"'(\u201c\u2018])")
_LIST_START = re.compile(r"^\s*([-*+]|\d+[.)])\s")


@lru_cache(maxsize=4096)
def shorten_summary(markdown: str, words: int) -> tuple[str, bool]:
    """The summary cut to about `words` words at a sentence or paragraph end, and whether it
    was cut. Whole paragraphs are kept while they fit; a prose paragraph may then be cut
    after a sentence, never inside a link or emphasis, and lists only between items' blocks.
    At least the first sentence always stays, so no item is left without a summary."""
    paragraphs = [p for p in re.split(r"\n\s*\n", markdown.strip()) if p.strip()]
    kept: list[str] = []
    count = 0
    for paragraph in paragraphs:
        size = len(paragraph.split())
        if count + size <= words:
            kept.append(paragraph)
            count += size
            continue
        head = _sentences_within(paragraph, words - count, first=not kept)
        if head:
            kept.append(head)
        break
    if kept and kept[-1].rstrip().endswith(":"):  # "... included:" with its list cut off
        shorter = _sentences_within(kept[-1], len(kept[-1].split()) - 1, first=False)
        if shorter and shorter != kept[-1]:
            kept[-1] = shorter
        elif len(kept) > 1:
            kept.pop()
    shortened = "\n\n".join(kept)
    return (shortened, True) if shortened != "\n\n".join(paragraphs) else (markdown, False)


def _sentences_within(paragraph: str, budget: int, *, first: bool) -> str:
    """The longest run of whole sentences of a prose paragraph within `budget` words (the
    first sentence anyway when `first`), cut only where no link or emphasis is open."""
    if _LIST_START.match(paragraph) or paragraph.lstrip().startswith(("#", ">", "    ")):
        return paragraph if first else ""
    best = ""
    for match in _SENTENCE_END.finditer(paragraph):
        head = paragraph[:match.start()].rstrip()
        if not _balanced(head):
            continue
        if len(head.split()) > budget:
            return best or (head if first else "")
        best = head
    return best or (paragraph if first else "")


def _balanced(text: str) -> bool:
    """No Markdown link, code span or emphasis left open at the end of `text`."""
    return (text.count("[") == text.count("]") and text.count("(") == text.count(")")
            and text.count("`") % 2 == 0 and text.count("**") % 2 == 0)


TEASER_WORDS = 25


@lru_cache(maxsize=4096)
def teaser(markdown: str, words: int = TEASER_WORDS) -> str:
    """One line for the excerpt email: the summary's first sentence as plain text, without
    link addresses (the excerpt must stay small), cut to about `words` words with "…"."""
    first = ""
    for token in _parser().parse(markdown):
        if token.type == "inline":
            first = " ".join(_inline_text(token.children or []).split())
            if first:
                break
    first = re.sub(r" \((?:https?|mailto):[^)\s]*\)", "", first)
    sentence = _SENTENCE_END.split(first, maxsplit=1)[0]
    kept = sentence.split()
    if len(kept) <= words:
        return sentence
    return " ".join(kept[:words]).rstrip(",;:") + "…"
