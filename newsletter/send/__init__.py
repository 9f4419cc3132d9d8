"""The send stage: a built issue and an audience in, one journaled message per recipient out.

Takes a `BuildResult`, the `Config` and the resolved `Audience`; `prepare_send` says what a
run would do (`SendPlan`) without writing anything; `send_issue` journals the plan,
personalises and signs each message and hands them to `deliver`, recording each
outcome only after the server answered (`SendReport`). `send_test` mails a few
addresses without touching the journal; `dry_run` composes everything, sends nothing.
`build_checked` checks every version the audience receives; `resolve_transport` turns
the `smtp:` block into the plain `Transport` that `deliver` is handed. `approve` records
a hash of every version a plan's audience receives; `verify` compares a plan with that
approval (a scheduled send goes only when they match); `checked_plan` is both steps'
resolve, build and plan.
`issue_report` adds up what an issue reached and which items readers followed
(`IssueReport`).
"""

from __future__ import annotations

from newsletter.send.approval import approve, checked_plan, verify
from newsletter.send.plan import SendPlan, prepare_send
from newsletter.send.readership import IssueReport, issue_report, shown
from newsletter.send.report import DryRunReport, SendReport
from newsletter.send.run import dry_run, send_issue
from newsletter.send.testsend import send_test
from newsletter.send.transport import resolve_transport
from newsletter.send.versions import build_checked

__all__ = ["DryRunReport", "IssueReport", "SendPlan", "SendReport", "approve", "build_checked", "checked_plan",
           "dry_run", "issue_report", "prepare_send", "resolve_transport", "send_issue", "send_test", "shown", "verify"]
