"""MkDocs hook: keep the commands' `Example:` blocks verbatim in the generated command
reference, as `--help` prints them.

mkdocs-click copies each command's help text into the page as Markdown (dropping click's
`\\b` no-rewrap marker), so the lines of an `Example:` block would run together into one
paragraph. This adds a Markdown preprocessor that runs after mkdocs-click's (priority
141) and before code fences are read (priority 25), turning each paragraph that starts
with `Example:` into a fenced text block.
"""

from __future__ import annotations

from typing import Any

from markdown import Extension, Markdown
from markdown.preprocessors import Preprocessor

EXAMPLE = "Example:"  # every command's help ends with one such block (a click `\\b` block)


class _VerbatimBlocks(Preprocessor):
    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        inside = False
        for line in lines:
            if line.strip() == EXAMPLE and not inside:
                out.extend(["```text", line])
                inside = True
            elif inside and not line.strip():
                out.extend(["```", ""])
                inside = False
            else:
                out.append(line)
        if inside:
            out.append("```")
        return out


class _VerbatimBlocksExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:
        md.preprocessors.register(_VerbatimBlocks(md), "click_verbatim_blocks", 100)


def on_config(config: Any) -> Any:
    config.markdown_extensions.append(_VerbatimBlocksExtension())
    return config
