"""The tutorial, walked as a reader walks it: every output it shows is what the tool prints.

docs/tutorial/first-issue.md is read block by block: each command whose next block is
plain output is run in a copy of the bundled sample, and its output must be that block
(the outbox's absolute path written `.../outbox`, as the page does). The item the reader
writes is taken from the page's YAML block, and the mistake they make on purpose too.
When a change alters what the tool prints, this fails until the page says so.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from support.project import copy_sample

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "tutorial" / "first-issue.md"


def blocks() -> list[tuple[str, str]]:
    """Every fenced block of the page, in order: (language, text)."""
    return [(m[1], m[2]) for m in re.finditer(r"^```(\w*)\n(.*?)^```$", PAGE.read_text(encoding="utf-8"), re.M | re.S)]


def output_after(command: str) -> str:
    """The plain block that follows the `sh` block holding `command`."""
    found = blocks()
    for n, (lang, text) in enumerate(found):
        if lang == "sh" and command in text.splitlines():
            following_lang, following = found[n + 1]
            assert following_lang == "", f"no output shown after {command!r}"
            assert following.strip(), f"the output shown after {command!r} is empty"
    return following
    raise AssertionError(f"the tutorial has no `{command}`")


def newsletter(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`newsletter ...` as the reader types it, without a terminal or the test's secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    args = command.split()[1:]
    return subprocess.run([sys.executable, "-m", "newsletter", *args], cwd=cwd, capture_output=True, text=True,
                          env={**env, "PYTHONPATH": str(REPO)}, timeout=120, check=False)


def shown(text: str, folder: Path) -> str:
    return text.replace(str(folder.resolve() / "outbox"), ".../outbox").replace(str(folder / "outbox"), ".../outbox")


def test_the_tutorials_outputs_are_what_the_tool_prints(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path / "sample")
    (folder / "subscribers.example.csv").write_bytes((REPO / "subscribers.example.csv").read_bytes())

    built = newsletter("newsletter build 2023-07", folder)
    assert built.returncode == 0, built.stderr
    assert built.stdout == output_after("newsletter build 2023-07")

    item = next(text for lang, text in blocks() if lang == "yaml" and "Our new training calendar" in text)
    mine = folder / "items" / "2023-07-20-my-first-item.yaml"
    mine.write_text(item.replace("theme: Online safety", "theme: Online safty"), encoding="utf-8")
    mistake = newsletter("newsletter build 2023-07", folder)
    shown_error = next(text for lang, text in blocks() if lang == "" and "Online safty" in text).strip()
    assert mistake.returncode == 1 and f"error: {shown_error}" in mistake.stderr.splitlines()
    mine.write_text(item, encoding="utf-8")

    test = newsletter("newsletter send 2023-07 --test you@example.org", folder)
    assert test.returncode == 0, test.stderr
    assert shown(test.stdout, folder) == output_after("newsletter send 2023-07 --test you@example.org")

    command = "newsletter send 2023-07 --subscribers subscribers.example.csv"
    plan = newsletter(command + " --dry-run", folder)  # the plan, then the dry run's own line
    assert plan.returncode == 0, plan.stderr
    assert shown(plan.stdout, folder).startswith(output_after(command))
