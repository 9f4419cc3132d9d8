"""The send stage: a built issue and an audience in, one journaled message per recipient out.

Takes a `BuildResult`, the `Config` and the subscriber CSV; `prepare_send` says what a
run would do (`SendPlan`) without writing anything; `send_issue` journals the plan,
personalises and signs each message and hands them to `deliver`, recording each
outcome only after the server answered (`SendReport`). `send_test` mails a few
addresses without touching the journal; `dry_run` composes everything, sends nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter.faces import load

if TYPE_CHECKING:
    from newsletter.send.confirmation import Confirmation, send_confirmation
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
    from newsletter.send.messages import Composer, TemplateCache
    from newsletter.send.plan import ROW_REASONS, SendPlan, check_gate, prepare_send
    from newsletter.send.report import DryRunReport, RunStatus, SendReport, all_run_statuses, run_status, write_failures_csv
    from newsletter.send.run import dry_run, send_issue
    from newsletter.send.signpool import SigningPool
    from newsletter.send.testsend import send_test, send_test_async

# name -> the module that defines it, imported on first use (PEP 562), so that importing
# one name loads only what that name needs.
_EXPORTS = {
    "all_run_statuses": "newsletter.send.report",
    "check_gate": "newsletter.send.plan",
    "Composer": "newsletter.send.messages",
    "Confirmation": "newsletter.send.confirmation",
    "dry_run": "newsletter.send.run",
    "DryRunReport": "newsletter.send.report",
    "generate_key": "newsletter.send.dkim",
    "load_private_key": "newsletter.send.dkim",
    "load_signer": "newsletter.send.dkim",
    "make_signer": "newsletter.send.dkim",
    "prepare_send": "newsletter.send.plan",
    "public_key_record": "newsletter.send.dkim",
    "record_name": "newsletter.send.dkim",
    "ROW_REASONS": "newsletter.send.plan",
    "run_status": "newsletter.send.report",
    "RunStatus": "newsletter.send.report",
    "send_confirmation": "newsletter.send.confirmation",
    "send_issue": "newsletter.send.run",
    "send_test": "newsletter.send.testsend",
    "send_test_async": "newsletter.send.testsend",
    "SendPlan": "newsletter.send.plan",
    "SendReport": "newsletter.send.report",
    "SigningPool": "newsletter.send.signpool",
    "TemplateCache": "newsletter.send.messages",
    "write_failures_csv": "newsletter.send.report",
    "write_private_key": "newsletter.send.dkim",
    "zone_strings": "newsletter.send.dkim",
}

__all__ = [
    "all_run_statuses",
    "check_gate",
    "Composer",
    "Confirmation",
    "dry_run",
    "DryRunReport",
    "generate_key",
    "load_private_key",
    "load_signer",
    "make_signer",
    "prepare_send",
    "public_key_record",
    "record_name",
    "ROW_REASONS",
    "run_status",
    "RunStatus",
    "send_confirmation",
    "send_issue",
    "send_test",
    "send_test_async",
    "SendPlan",
    "SendReport",
    "SigningPool",
    "TemplateCache",
    "write_failures_csv",
    "write_private_key",
    "zone_strings",
]


def __getattr__(name: str) -> object:
    return load(__name__, _EXPORTS, name)
