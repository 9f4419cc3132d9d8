"""A copy of the bundled sample offered in Welsh and English (`languages: [cy, en]`), with
one July item and the subject written in both, for the archive's and the preview's tests."""

from __future__ import annotations

from pathlib import Path

from newsletter.config import Config, load_config
from support.project import copy_sample

WELSH_ITEM_FILE = "items/2023-07-06-information-sharing-barriers.yaml"
WELSH_ITEM = """\
title:
  en: Barriers to sharing information between agencies
  cy: Rhwystrau i rannu gwybodaeth rhwng asiantaethau
date: 2023-07-06
source: DfE
theme: Information sharing
summary:
  en: Practitioners hesitate to share safeguarding information with other agencies.
  cy: Mae ymarferwyr yn petruso cyn rhannu gwybodaeth diogelu ag asiantaethau eraill.
links:
  - label: {en: Read the research report, cy: Darllenwch yr adroddiad ymchwil}
    title: Practitioner perspectives on multi-agency information sharing
    url: https://www.gov.uk/government/publications/multi-agency-information-sharing-research
"""


def bilingual_project(root: Path, *, extra: str = "") -> Config:
    """The sample in a new folder `root`, in Welsh first and English (`extra`: more config lines)."""
    copy_sample(root)
    path = root / "newsletter.yaml"
    text = path.read_text(encoding="utf-8")
    assert "language: en-GB\n" in text and "subject: \"{name}: what's new in {period}\"" in text
    text = text.replace("language: en-GB\n", "language: en\nlanguages: [cy, en]\n").replace(
        "subject: \"{name}: what's new in {period}\"",
        "subject: {en: \"{name}: what's new in {period}\", cy: \"{name}: beth sy'n newydd yn {period}\"}")
    path.write_text(text + extra, encoding="utf-8")
    (root / WELSH_ITEM_FILE).write_text(WELSH_ITEM, encoding="utf-8")
    (root / "subscribers.csv").write_text("email,name,language\nanwen@example.org,Anwen Jones,cy\n"
                                          "bob@example.org,Bob Smith,en\n", encoding="utf-8")
    return load_config(path)
