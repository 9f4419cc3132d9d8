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

from typing import TYPE_CHECKING

from newsletter import load_face

if TYPE_CHECKING:
    from newsletter.send.approval import approve, checked_plan, verify
    from newsletter.send.clock import MissedSchedule, describe, lateness, parse_at, until_text, wait_until
    from newsletter.send.confirmation import Confirmation, Welcome, compose_confirmation, compose_welcome
    from newsletter.send.dkim import (
        generate_key,
        load_private_key,
        load_signer,
        make_signer,
        public_key_record,
        record_name,
        write_private_key,
        zone_strings,
    )
    from newsletter.send.messages import Composer, TemplateCache, unsubscribe_keys
    from newsletter.send.month import next_issue
    from newsletter.send.notice import send_notice
    from newsletter.send.plan import LOCAL_ONLY_RULES, ROW_REASONS, SendPlan, check_gate, prepare_send
    from newsletter.send.readership import IssueReport, issue_report, shown
    from newsletter.send.remind import is_reminder_day, reviewers, send_reminder
    from newsletter.send.report import (
        DryRunReport,
        RunStatus,
        SendReport,
        all_run_statuses,
        run_status,
        write_failures_csv,
        write_row_problems,
    )
    from newsletter.send.run import dry_run, send_issue
    from newsletter.send.signpool import SigningPool
    from newsletter.send.signupmail import SignupMail, SignupMailer, confirm_link_base, scrub, signup_settings
    from newsletter.send.testsend import send_test, send_test_async
    from newsletter.send.timers import (
        Schedule,
        cron_line,
        find_schedules,
        remove_schedule,
        systemd_running,
        unit_dir,
        write_units,
    )
    from newsletter.send.transport import leaves_machine, transport_from_config
    from newsletter.send.versions import build_checked, checked_audience, version_labels

# name -> the module that defines it, imported on first use (PEP 562), so that importing
# one name loads only what that name needs.
_EXPORTS = {
    "all_run_statuses": "newsletter.send.report",
    "approve": "newsletter.send.approval",
    "build_checked": "newsletter.send.versions",
    "check_gate": "newsletter.send.plan",
    "checked_audience": "newsletter.send.versions",
    "checked_plan": "newsletter.send.approval",
    "compose_confirmation": "newsletter.send.confirmation",
    "compose_welcome": "newsletter.send.confirmation",
    "Composer": "newsletter.send.messages",
    "confirm_link_base": "newsletter.send.signupmail",
    "Confirmation": "newsletter.send.confirmation",
    "cron_line": "newsletter.send.timers",
    "describe": "newsletter.send.clock",
    "dry_run": "newsletter.send.run",
    "DryRunReport": "newsletter.send.report",
    "find_schedules": "newsletter.send.timers",
    "generate_key": "newsletter.send.dkim",
    "is_reminder_day": "newsletter.send.remind",
    "issue_report": "newsletter.send.readership",
    "IssueReport": "newsletter.send.readership",
    "lateness": "newsletter.send.clock",
    "leaves_machine": "newsletter.send.transport",
    "load_private_key": "newsletter.send.dkim",
    "load_signer": "newsletter.send.dkim",
    "LOCAL_ONLY_RULES": "newsletter.send.plan",
    "make_signer": "newsletter.send.dkim",
    "MissedSchedule": "newsletter.send.clock",
    "next_issue": "newsletter.send.month",
    "parse_at": "newsletter.send.clock",
    "prepare_send": "newsletter.send.plan",
    "public_key_record": "newsletter.send.dkim",
    "record_name": "newsletter.send.dkim",
    "remove_schedule": "newsletter.send.timers",
    "reviewers": "newsletter.send.remind",
    "ROW_REASONS": "newsletter.send.plan",
    "run_status": "newsletter.send.report",
    "RunStatus": "newsletter.send.report",
    "Schedule": "newsletter.send.timers",
    "scrub": "newsletter.send.signupmail",
    "send_issue": "newsletter.send.run",
    "send_notice": "newsletter.send.notice",
    "send_reminder": "newsletter.send.remind",
    "send_test": "newsletter.send.testsend",
    "send_test_async": "newsletter.send.testsend",
    "SendPlan": "newsletter.send.plan",
    "SendReport": "newsletter.send.report",
    "shown": "newsletter.send.readership",
    "SigningPool": "newsletter.send.signpool",
    "signup_settings": "newsletter.send.signupmail",
    "SignupMail": "newsletter.send.signupmail",
    "SignupMailer": "newsletter.send.signupmail",
    "systemd_running": "newsletter.send.timers",
    "TemplateCache": "newsletter.send.messages",
    "transport_from_config": "newsletter.send.transport",
    "unit_dir": "newsletter.send.timers",
    "unsubscribe_keys": "newsletter.send.messages",
    "until_text": "newsletter.send.clock",
    "verify": "newsletter.send.approval",
    "version_labels": "newsletter.send.versions",
    "wait_until": "newsletter.send.clock",
    "Welcome": "newsletter.send.confirmation",
    "write_failures_csv": "newsletter.send.report",
    "write_private_key": "newsletter.send.dkim",
    "write_row_problems": "newsletter.send.report",
    "write_units": "newsletter.send.timers",
    "zone_strings": "newsletter.send.dkim",
}

__all__ = [
    "all_run_statuses",
    "approve",
    "build_checked",
    "check_gate",
    "checked_audience",
    "checked_plan",
    "compose_confirmation",
    "compose_welcome",
    "Composer",
    "confirm_link_base",
    "Confirmation",
    "cron_line",
    "describe",
    "dry_run",
    "DryRunReport",
    "find_schedules",
    "generate_key",
    "is_reminder_day",
    "issue_report",
    "IssueReport",
    "lateness",
    "leaves_machine",
    "load_private_key",
    "load_signer",
    "LOCAL_ONLY_RULES",
    "make_signer",
    "MissedSchedule",
    "next_issue",
    "parse_at",
    "prepare_send",
    "public_key_record",
    "record_name",
    "remove_schedule",
    "reviewers",
    "ROW_REASONS",
    "run_status",
    "RunStatus",
    "Schedule",
    "scrub",
    "send_issue",
    "send_notice",
    "send_reminder",
    "send_test",
    "send_test_async",
    "SendPlan",
    "SendReport",
    "shown",
    "SigningPool",
    "signup_settings",
    "SignupMail",
    "SignupMailer",
    "systemd_running",
    "TemplateCache",
    "transport_from_config",
    "unit_dir",
    "unsubscribe_keys",
    "until_text",
    "verify",
    "version_labels",
    "wait_until",
    "Welcome",
    "write_failures_csv",
    "write_private_key",
    "write_row_problems",
    "write_units",
    "zone_strings",
]


def __getattr__(name: str) -> object:
    return load_face(__name__, _EXPORTS, name)
