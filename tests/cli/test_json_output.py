"""`--json` for scripts: the objects commands print have the keys docs/reference/json.md shows.

The page's example for each command is parsed and compared key by key (nested objects
and the first item of lists too) with what the command prints for a real project.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.dnsserver import ZoneServer

from newsletter import journal
from newsletter.cli import main
from newsletter.config import load_config

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "json.md"


def documented(command: str) -> Any:
    """The JSON example under the page's `## \\`COMMAND\\`` heading."""
    text = PAGE.read_text(encoding="utf-8")
    section = text.split(f"## `{command}`", 1)[1]
    return json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))  # type: ignore[union-attr]


def same_keys(printed: Any, example: Any) -> bool:
    """The same keys at every level: objects key by key, lists by their first items (an empty
    list matches any), and objects whose values are all counts (keyed by data, such as
    reasons or relays) match any such object."""
    if isinstance(printed, dict) and isinstance(example, dict):
        if all(isinstance(v, int) for v in [*printed.values(), *example.values()]):
            return True
        return printed.keys() == example.keys() and all(same_keys(printed[k], example[k]) for k in printed)
    if isinstance(printed, list) and isinstance(example, list):
        return not printed or not example or same_keys(printed[0], example[0])
    return True


def folder(tmp_path: Path) -> Path:
    (tmp_path / "newsletter.yaml").write_text(
        'name: Digest\nfrom: "Digest <news@example.org>"\nthemes: [News]\n'
        "unsubscribe: {url: 'https://example.org/unsubscribe', mailto: unsubscribe@example.org}\n",
        encoding="utf-8")
    return tmp_path / "newsletter.yaml"


def test_doctor_json_has_the_documented_keys_and_exit_status(tmp_path: Path) -> None:
    config = folder(tmp_path)
    with ZoneServer("") as dns:
        result = CliRunner().invoke(main, ["doctor", "--config", str(config), "--nameserver", dns.address,
                                           "--no-relay", "--json"])
    assert result.exit_code == 1  # no SPF, DMARC: errors
    printed = json.loads(result.stdout)
    assert same_keys(printed, documented("doctor --json"))
    assert printed["ready"] is False and printed["errors"] == sum(f["level"] == "error" for f in printed["findings"])
    assert {"level": "error", "topic": "spf", "message": "no SPF record for example.org",
            "hint": 'publish a TXT record at example.org: "v=spf1 include:<your provider\'s SPF domain> -all"'
            } in printed["findings"]


def test_suppress_list_json_has_the_documented_keys(tmp_path: Path) -> None:
    config = folder(tmp_path)
    db = journal.connect(load_config(config).state)
    journal.suppress(db, "Jo@Example.net", "unsubscribed", "one-click")
    journal.suppress(db, "gone@example.net", "hard-bounce", "smtp:550")
    db.close()
    result = CliRunner().invoke(main, ["suppress", "list", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert same_keys(printed, documented("suppress list --json"))
    assert printed["count"] == 2 and printed["by_reason"] == {"hard-bounce": 1, "unsubscribed": 1}
    assert {row["address"] for row in printed["suppressions"]} == {"jo@example.net", "gone@example.net"}
    only = json.loads(CliRunner().invoke(main, ["suppress", "list", "--config", str(config), "--json",
                                                "--reason", "hard-bounce"]).stdout)
    assert only["count"] == 1 and only["suppressions"][0]["reason"] == "hard-bounce"
