"""The `newsletter` command: parses arguments and dispatches; no business logic here.

User errors (`NewsletterError`) are caught once, here, and printed as one line each
(`error: FILE:LINE: ...`) with exit code 1; `--debug` shows the traceback too.
Each command lives in its own module in this package; `main` imports a command's module
only when that command runs (click's lazy-loading pattern), so `newsletter --help` starts
at once and each command imports only the stages it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter import load_face

if TYPE_CHECKING:
    from newsletter.cli.app import ALIASES, COMMANDS, help_sections, main, run
    from newsletter.cli.send import send_with_progress

# name -> the module that defines it, imported on first use (PEP 562), so that importing
# one name loads only what that name needs.
_EXPORTS = {
    "ALIASES": "newsletter.cli.app",
    "COMMANDS": "newsletter.cli.app",
    "help_sections": "newsletter.cli.app",
    "main": "newsletter.cli.app",
    "run": "newsletter.cli.app",
    "send_with_progress": "newsletter.cli.send",
}

__all__ = [
    "ALIASES",
    "COMMANDS",
    "help_sections",
    "main",
    "run",
    "send_with_progress",
]


def __getattr__(name: str) -> object:
    return load_face(__name__, _EXPORTS, name)
