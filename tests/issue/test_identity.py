"""`check` warns when mail through a real relay would carry no postal address."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from newsletter.config import load_config
from newsletter.daterange import DateRange
from newsletter.issue.build import build_issue

REPO = Path(__file__).resolve().parents[2]
JULY = DateRange(dt.date(2023, 7, 1), dt.date(2023, 7, 31))


def postal(project: Path, *, smtp: str | None, organisation: bool) -> list[str]:
    path = project / "newsletter.yaml"
    text = (REPO / "newsletter.yaml").read_text()
    if not organisation:
        text = text.replace("organisation:\n  name: Example Trust\n  address: \"42 Weston Street, London SE1 3QD\"\n",
                            "organisation:\n  name: Example Trust\n")
    if smtp:
        text += f"smtp: {{host: {smtp}, port: 2525, security: none, allow_insecure: true}}\n"
    path.write_text(text)
    result = build_issue(load_config(path), JULY, write=False)
    return [f"{f.severity} {f.where}: {f.message}" for f in result.findings if f.rule == "postal-address"]


def test_a_relay_send_without_a_postal_address_is_warned(project: Path) -> None:
    assert postal(project, smtp="smtp.example.net", organisation=False) == [
        "warning newsletter.yaml: organisation.address: mail sent through smtp.example.net carries no postal "
        "address in its footer"]


def test_the_outbox_a_loopback_relay_or_an_address_need_no_warning(project: Path, tmp_path: Path) -> None:
    assert postal(project, smtp=None, organisation=False) == []
    assert postal(project, smtp="127.0.0.1", organisation=False) == []
    assert postal(project, smtp="smtp.example.net", organisation=True) == []
