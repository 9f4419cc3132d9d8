"""The commented settings at the end of the config `init` writes, from the key table.

Every key the config accepts is listed, commented out, with its default (or an example
where it has none) and its one-line help, so a comms officer discovers what can be set
without leaving the file, and removing the `# ` before a line gives a working setting.
The keys come from `newsletter.config.SECTIONS`, the table the loader and the
configuration reference read too, so this list cannot fall behind the loader.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from newsletter.config import REQUIRED, SECTIONS, Key

__all__ = ["commented_settings", "section_text"]

HELP_COLUMN = 34  # where the help comments start, so they line up

# A few words before a section's keys where the keys alone do not say enough.
NOTES = {
    "smtp": ("No `smtp:` block: `newsletter send` delivers into outbox/ here (no mail leaves the\n"
             "machine). To send for real, point it at your provider's relay, then run\n"
             "`newsletter doctor` to check DNS (SPF, DKIM, DMARC) and the relay before sending."),
    "dkim": "`newsletter dkim keygen` makes a key and prints the DNS record to publish.",
    "approval": ("Approve, then schedule: someone approves the build (`newsletter approve`, or Approve\n"
                 "in the preview); `newsletter schedule YYYY-MM --at \"YYYY-MM-DD 09:00\"` sends it then,\n"
                 "only as approved. timers/ offers a daily collect-and-remind job."),
    "tokens": ("The token secret that signs unsubscribe links is in .newsletter-secret (made for\n"
               "you, mode 0600, kept out of git); or set NEWSLETTER_TOKEN_SECRET instead."),
}


def commented_settings(active: Iterable[str], quoted: Callable[[str], str], *, domain: str, theme: str,
                       examples: dict[str, str] | None = None) -> str:
    """Every top-level key except `active` (written out above by the caller), commented,
    in the table's order; a section's keys indented under it. `quoted` writes a YAML
    scalar; examples name the sender's `domain` and one of the newsletter's themes, and
    `examples` gives a top-level key a better one (the plan's own sender as `reply_to`)."""
    lines: list[str] = []
    examples = examples or {}

    def value(key: Key) -> str:
        if key.example:
            return (key.example.replace("example.org", domain)
                    .replace('"<theme>"', json.dumps(theme)).replace("<theme>", quoted(theme)))
        return _yaml(key.default, quoted)

    for key in SECTIONS[""].keys:
        if key.name in active:
            continue
        section = SECTIONS.get(key.name)
        if section is None:
            lines.append(_line("", key.name, examples.get(key.name) or value(key), key.help))
            continue
        lines.append("#")
        lines.extend(f"# {note}" for note in NOTES.get(key.name, "").splitlines())
        lines.append(_line("", key.name, "", key.help))
        for n, sub in enumerate(section.keys):
            indent = ("  - " if n == 0 else "    ") if key.kind == "list" else "  "
            lines.append(_line(indent, sub.name, value(sub), sub.help))
    return "\n".join(lines) + "\n"


def section_text(name: str, given: dict[str, str], quoted: Callable[[str], str], *, domain: str,
                 examples: dict[str, str] | None = None) -> str:
    """One section written out: the keys in `given` set (values already YAML), every other
    key of the section commented with its default or example, so uncommenting still works.
    With nothing given, the whole section is commented out."""
    top = SECTIONS[""].keys[SECTIONS[""].names.index(name)]
    mark = "" if given else "# "
    lines = [f"{mark}{name}:{' ' * max(1, HELP_COLUMN - len(mark) - len(name) - 1)}# {top.help}"]
    for key in SECTIONS[name].keys:
        if key.name in given:
            lines.append(_line("", f"  {key.name}", given[key.name], key.help).removeprefix("# "))
        else:
            example = (examples or {}).get(key.name) or (
                key.example.replace("example.org", domain) if key.example else _yaml(key.default, quoted))
            lines.append(_line("", f"  {key.name}", example, key.help))
    return "\n".join(lines) + "\n"


def _line(indent: str, name: str, value: str, help: str) -> str:
    setting = f"# {indent}{name}:{' ' + value if value else ''}"
    return f"{setting:<{HELP_COLUMN}} # {help}" if len(setting) < HELP_COLUMN else f"{setting}  # {help}"


def _yaml(default: Any, quoted: Callable[[str], str]) -> str:
    if default is REQUIRED or default is None:
        return ""
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return quoted(default) if isinstance(default, str) else str(default)
