"""What `newsletter send` shows before it asks: the plan, the rows it skips, rehearsal or
real send, the theme versions; and the same plan for scripts (`--dry-run --json`).

Moved out of send.py unchanged; the plan itself is worked out in send/plan.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from newsletter.cli.wording import plural

if TYPE_CHECKING:
    from rich.console import Console

    from newsletter.send import DryRunReport, SendPlan

__all__ = ["SHOWN_ROWS", "dry_run_json", "print_dry_run", "print_plan", "write_skipped_rows"]


SHOWN_ROWS = 5  # skipped and duplicate rows printed before the plan; the rest are in the file


def write_skipped_rows(plan: SendPlan) -> Path | None:
    """Every skipped or duplicate CSV row into issues/<slug>/skipped-rows.csv, when any."""
    from newsletter.send import write_row_problems

    if not plan.subscribers.invalid and not plan.subscribers.duplicates:
        return None
    path = plan.build.folder / "skipped-rows.csv"
    write_row_problems(path, plan.subscribers.invalid, plan.subscribers.duplicates)
    return path


def print_plan(out: Console, plan: SendPlan, rows_file: Path | None = None) -> None:
    from newsletter.send import ROW_REASONS

    subject = plan.build.rendered.subject
    out.print(f"Issue {plan.slug}: {subject!r} ({plural(len(plan.build.rendered.issue.items), 'item')})")
    out.print(f"Subscribers: {plan.subscribers.path} ({plural(plan.subscribers.rows, 'row')})")
    rows = plan.subscribers
    for problem in rows.invalid[:SHOWN_ROWS]:
        out.print(f"  skipped line {problem.line}: {problem.reason} ({problem.value!r})")
    for problem in rows.duplicates[:SHOWN_ROWS]:
        out.print(f"  duplicate line {problem.line}: {problem.reason} ({problem.value!r}), sent once")
    hidden = max(0, len(rows.invalid) - SHOWN_ROWS) + max(0, len(rows.duplicates) - SHOWN_ROWS)
    if rows_file is not None and hidden:
        out.print(f"  ... and {plural(hidden, 'more row')}: every one, with its line, is in {_shown(rows_file)}")
    elif rows_file is not None:
        out.print(f"  (also listed in {_shown(rows_file)})")
    if plan.from_signups or plan.config.subscribe is not None:
        out.print(f"Sign-ups: {plan.from_signups} confirmed on the sign-up page and not in the CSV, "
                  "added to the list")
    _print_themes(out, plan)
    _print_languages(out, plan)
    _print_kind(out, plan)
    if plan.resuming:
        what = "rehearsal" if plan.rehearsal else "run"
        out.print(f"Resuming the {what} started {plan.run.created if plan.run else ''}: {plan.already_sent} "
                  f"already {'filed' if plan.rehearsal else 'sent'}{_relays(plan)}, {plan.failed_before} failed before"
                  + ("" if not plan.failed_before else " (--retry-failed tries them again)"))
    if plan.changed:
        out.print("warning: the issue has changed since this run started; the remaining recipients get the "
                  "new version")
    if plan.in_flight:
        out.print(f"{plural(plan.in_flight, 'recipient was')} in flight when the last run stopped: "
                  f"{'they are' if plan.in_flight != 1 else 'it is'} sent again and may get the issue twice")
    out.print(f"To send: {plan.to_send}" + (f" ({plan.new} new)" if plan.resuming else ""))
    for reason, count in sorted(plan.excluded.items()):
        out.print(f"  excluded: {plural(count, reason) if reason in ROW_REASONS else f'{count} {reason}'}")
    out.print(f"Through: {plan.transport_label}")
    if plan.transport is None:
        out.print("No smtp: block in the config, so an embedded SMTP server on 127.0.0.1 files every message "
                  "in outbox/.")


def _languages(plan: SendPlan) -> dict[str, int]:
    """Subscribers by the language they receive (the config's `language` for a blank cell;
    every language reaches everyone when they are stacked in one email)."""
    if plan.config.stacked_languages:
        return dict.fromkeys(plan.config.stacked_languages, len(plan.subscribers.subscribers))
    counts: dict[str, int] = {}
    for s in plan.subscribers.subscribers:
        tag = s.language or plan.config.language
        counts[tag] = counts.get(tag, 0) + 1
    return counts


def _print_languages(out: Console, plan: SendPlan) -> None:
    """A bilingual list (issue 31): how many readers get each language's version."""
    counts = _languages(plan)
    if plan.config.stacked_languages:
        out.print("Languages: " + " then ".join(plan.config.stacked_languages)
                  + ", in one email to every reader (language_layout: stacked)")
    elif len(counts) > 1 or len(plan.config.languages) > 1:
        out.print("Languages: " + ", ".join(f"{tag} {n}" for tag, n in counts.items())
                  + " (each receives the issue in their language)")


def _print_kind(out: Console, plan: SendPlan) -> None:
    """Rehearsal or real send: said before anything is asked, so nobody mistakes one for the other."""
    if plan.rehearsal:
        out.print("This is a rehearsal: every message goes into the local outbox, nothing leaves this machine, "
                  "and nobody counts as sent when you send through a relay later. Rehearse as often as you like.")
        return
    out.print(f"This is the real send, through {plan.transport_label}: "
              "whoever the relay accepts is recorded as sent and never mailed this issue again.")
    if plan.rehearsed is not None and not plan.resuming:
        out.print(f"  (the rehearsal of {plan.rehearsed.created[:16].replace('T', ' ')} into the local outbox "
                  "does not count: everyone is sent to)")


def _relays(plan: SendPlan) -> str:
    """` (300 through a:587, 100 through b:587)` when a real run has gone through more than one relay."""
    if plan.rehearsal or len(plan.relays) < 2:
        return ""
    return " (" + ", ".join(f"{n} through {relay or 'an unrecorded relay'}" for relay, n in plan.relays.items()) + ")"


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def dry_run_json(plan: SendPlan, report: DryRunReport, rows_file: Path | None) -> str:
    """The plan and what composing every message found, as `send --dry-run --json` prints it
    (docs/reference/json.md)."""
    import json

    from newsletter.send import ROW_REASONS

    rows = plan.subscribers
    return json.dumps({
        "issue": plan.slug, "subject": plan.build.rendered.subject, "kind": str(plan.kind),
        "through": plan.transport_label,
        "subscribers": {"file": str(rows.path), "rows": rows.rows, "skipped": len(rows.invalid),
                        "duplicates": len(rows.duplicates), "rows_file": str(rows_file) if rows_file else None,
                        "from_signups": plan.from_signups},
        "languages": _languages(plan),
        "to_send": plan.to_send, "new": plan.new, "already_sent": plan.already_sent,
        "failed_before": plan.failed_before, "in_flight": plan.in_flight, "resuming": plan.resuming,
        "excluded": {reason: n for reason, n in sorted(plan.excluded.items()) if reason not in ROW_REASONS},
        "check_errors": [{"rule": f.rule, "where": f.where, "message": f.message}
                         for f in plan.build.findings if f.severity == "error"],
        "composed": {"messages": report.messages, "total_bytes": report.total_bytes, "largest": report.largest,
                     "longest_line": report.longest_line, "over_limit": list(report.over_limit)},
    }, indent=2)


def print_dry_run(out: Console, report: DryRunReport) -> None:
    out.print(f"Dry run: composed {plural(report.messages, 'message')} in {report.seconds:.2f} s, "
              f"{report.total_bytes / 1024 / 1024:.1f} MB in all, largest {report.largest / 1024:.1f} KB, "
              f"longest line {report.longest_line} octets (limit 998). Nothing was sent or recorded.")
    for address in report.over_limit:
        out.print(f"error: the message to {address} has a line over 998 octets")


def _print_themes(out: Console, plan: SendPlan) -> None:
    """Theme choices (issue 9): unknown names in the CSV, versions rendered, quiet subscribers."""
    for problem in plan.choices.problems:
        out.print(f"  warning: {problem}: ignored, the row keeps its other themes (or gets every theme)")
    if plan.variants is None or all(selection is None for selection in plan.choices.selections):
        return  # nobody chose themes: everyone gets the whole issue
    variants, n = plan.variants, plan.choices.distinct
    versions = len({variants.key_of(selection) for selection in plan.choices.selections})  # sent this run
    out.print(f"Theme choices: {n} {'selection' if n == 1 else 'different selections'} ({plan.choices.from_page} "
              f"saved on the preferences page), {versions} {'version' if versions == 1 else 'versions'} of the issue")
    quiet = sum(1 for s in plan.subscribers.subscribers if plan.variants.is_quiet(s.themes))
    if quiet:
        one = quiet == 1
        what = (("gets" if one else "get") + " the quiet-month note" if plan.config.quiet_month
                else ("is" if one else "are") + " skipped (quiet month)")
        out.print(f"  {quiet} {'subscriber has' if one else 'subscribers have'} nothing new in their "
                  f"themes and {what}")
