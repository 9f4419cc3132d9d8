"""Rules over what the reader reads: the subject, the preheader, the sections and items.

The subject and preheader are all an inbox shows before the message is opened, so
their length and tone decide whether it is opened at all; an empty section or an item
with nothing to follow up is a hole in the issue itself.
"""

from __future__ import annotations

import re
from typing import Any

from newsletter.config import Config
from newsletter.deliver import is_loopback
from newsletter.issue.checks.document import line_of
from newsletter.issue.checks.findings import Finding, error, warning
from newsletter.issue.selection import Issue

__all__ = ["PREHEADER_MIN", "SUBJECT_MAX", "check_identity", "check_items", "check_preheader", "check_subject"]

SUBJECT_MAX = 70
PREHEADER_MIN = 40
_INVISIBLE = "\u200b\u200c\u200d\u2007\u034f\u00a0\u00ad\ufeff\u2060"


def check_items(issue: Issue | None) -> list[Finding]:
    findings: list[Finding] = []
    for section in issue.sections if issue else ():
        if not section.items:
            findings.append(error("empty-section", f"theme {section.theme}",
                                  f"the {section.theme!r} section has no items",
                                  "add an item or leave the theme out of this issue"))
        for item in section.items:
            if not any(link.url.strip() for link in item.links):
                findings.append(error("item-link", item.where_of("links"), f"{item.title!r} has no link",
                                      "add a `links:` entry so readers can follow it up"))
    return findings


def check_identity(config: Config) -> list[Finding]:
    """Mail through a relay to real subscribers must say who sent it and where they are:
    a postal address in the footer (CAN-SPAM, PECR guidance, Gmail and Yahoo's sender
    rules). A rehearsal into the outbox or a relay on this machine is not held to it."""
    smtp = config.smtp
    if smtp is None or is_loopback(smtp.host):
        return []
    if config.organisation is not None and config.organisation.address:
        return []
    return [warning("postal-address", f"{config.path.name}: organisation.address",
                    f"mail sent through {smtp.host} carries no postal address in its footer",
                    "add organisation: {name: ..., address: \"street, town, postcode\"} to the config")]


def check_subject(subject: str) -> list[Finding]:
    subject = " ".join(subject.split())
    if not subject:
        return [error("subject", "subject", "the subject is empty", "set `subject:` in the config")]
    findings = []
    if len(subject) > SUBJECT_MAX:
        findings.append(warning("subject", "subject", f"the subject is {len(subject)} characters; inboxes "
                                f"cut it near {SUBJECT_MAX}", "put the important words first or shorten it"))
    letters = [c for c in subject if c.isalpha()]
    if len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) > 0.6:
        findings.append(warning("subject", "subject", f"the subject is mostly capitals: {subject!r}",
                                "write it in sentence case; capitals read as shouting and as spam"))
    if re.search(r"[!?]{2,}|!\s*!", subject):
        findings.append(warning("subject", "subject", f"the subject has repeated !/?: {subject!r}",
                                "one mark at most; spam filters score these"))
    return findings


def check_preheader(doc: Any) -> list[Finding]:
    """The hidden first text in <body> is what inboxes show next to the subject."""
    body = doc.find("body")
    hidden = None
    for el in body.iter() if body is not None else ():
        style = re.sub(r"\s+", "", (el.get("style") or "").lower()) if isinstance(el.tag, str) else ""
        if "display:none" in style:
            hidden = el
            break
    if hidden is None:
        return [warning("preheader", "email.html", "no preheader: inboxes will show the first "
                        "visible text instead", "keep the hidden preheader <div> in the template")]
    text = " ".join(hidden.text_content().translate({ord(c): " " for c in _INVISIBLE}).split())
    if len(text) < PREHEADER_MIN:
        return [warning("preheader", line_of(hidden), f"the preheader is only {len(text)} characters "
                        f"({text!r})", f"write at least {PREHEADER_MIN} characters in `preheader:`")]
    return []
