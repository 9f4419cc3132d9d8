"""The journal on both engines: the same queries, the same answers, the same guarantees.

Every test here runs on a real SQLite file and on a real PostgreSQL database (a fresh one
per test, tests/support/postgres.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from newsletter import journal
from newsletter.errors import NewsletterError

pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture
def state(tmp_path: Path, backend: str) -> journal.StateLocation:
    import os

    return journal.parse_state(os.environ.get("NEWSLETTER_STATE") or tmp_path / "newsletter.db")


@pytest.fixture
def db(state: journal.StateLocation) -> journal.Db:
    return journal.connect(state)


def _plan(db: journal.Db, count: int, slug: str = "2023-07") -> journal.Run:
    run = journal.open_run(db, slug, subject="July", digest="d1", subscribers="subscribers.csv")
    journal.apply_plan(db, run.id, new=(
        journal.NewRecipient(f"r{i:05d}@example.org", f"R{i:05d}@Example.org", f"Reader {i}",
                             ("Neglect",) if i % 2 else None, journal.RecipientState.PENDING, "", f"<{i}@example.org>")
        for i in range(count)), wanted=[], skip=[])
    return run


def test_claims_go_in_list_order_and_outcomes_are_recorded(db: journal.Db) -> None:
    run = _plan(db, 10)
    first = journal.checkpoint(db, run.id, [], claim=4)
    assert [r.key for r in first] == [f"r{i:05d}@example.org" for i in range(4)]
    assert first[1].email == "R00001@Example.org" and first[1].themes == ("Neglect",) and first[0].themes is None
    outcomes = [journal.Outcome(first[0].key, journal.RecipientState.SENT, "250 ok"),
                journal.Outcome(first[1].key, journal.RecipientState.FAILED, "550 no such user"),
                journal.Outcome(first[2].key, journal.RecipientState.DEFERRED, "451 later", possible_duplicate=True),
                journal.Outcome(first[3].key, journal.RecipientState.PENDING)]
    second = journal.checkpoint(db, run.id, outcomes, claim=2)
    assert [r.key for r in second] == ["r00003@example.org", "r00004@example.org"]
    counts = journal.run_counts(db, run.id)
    assert counts == {"pending": 5, "sending": 2, "sent": 1, "deferred": 1, "failed": 1, "skipped": 0,
                      "possible_duplicates": 1}
    assert journal.recover_in_flight(db, run.id) == 2
    assert journal.run_counts(db, run.id)["possible_duplicates"] == 3
    assert journal.retry_failed(db, run.id) == 1
    assert [r.key for r in journal.run_recipients(db, run.id, ("deferred",))] == ["r00002@example.org"]


def test_an_opt_out_committed_before_a_claim_turns_it_into_skipped(db: journal.Db,
                                                                   state: journal.StateLocation) -> None:
    run = _plan(db, 3)
    other = journal.connect(state)  # the subscriber site, another connection (another machine)
    assert journal.suppress(other, "R00001@example.org", "unsubscribed", "one-click")
    assert not journal.suppress(other, "r00001@example.org", "unsubscribed", "web")  # kept as it was
    rows = journal.checkpoint(db, run.id, [], claim=3)
    assert [(r.key, r.state) for r in rows] == [("r00000@example.org", "sending"),
                                                   ("r00001@example.org", "skipped"),
                                                   ("r00002@example.org", "sending")]
    assert rows[1].reply == f"{journal.SUPPRESSED_DURING_RUN} (unsubscribed)"
    other.close()


def test_several_connections_claiming_at_once_never_claim_a_recipient_twice(
        db: journal.Db, state: journal.StateLocation) -> None:
    run = _plan(db, 600)
    claimed: list[list[str]] = [[] for _ in range(6)]
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        conn = journal.connect(state)
        try:
            outcomes: list[journal.Outcome] = []
            while True:
                rows = journal.checkpoint(conn, run.id, outcomes, claim=7)
                if not rows:
                    return
                claimed[n] += [r.key for r in rows]
                outcomes = [journal.Outcome(r.key, journal.RecipientState.SENT, "250") for r in rows]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    everyone = [email for batch in claimed for email in batch]
    assert len(everyone) == 600 and len(set(everyone)) == 600
    assert journal.run_counts(db, run.id)["sent"] == 600


def test_suppressions_preferences_bounces_caches_and_signups_read_back(db: journal.Db) -> None:
    run = _plan(db, 2)
    assert journal.suppress_many(db, [("a@example.org", "imported", "csv:x"), ("A@example.org", "imported", "csv:x"),
                                      ("b@example.org", "manual", "")]) == 2
    assert journal.is_suppressed(db, "A@EXAMPLE.ORG") and journal.suppressed_addresses(db) == {"a@example.org",
                                                                                                 "b@example.org"}
    assert journal.unsuppress_if(db, "b@example.org", reason="manual", sources=["", "web"])
    assert journal.unsuppress(db, "a@example.org") and journal.list_suppressions(db) == []
    journal.set_preferences(db, "x@example.org", ["Neglect"])
    journal.set_preferences(db, "X@example.org", ["Neglect", "Online safety"])
    assert journal.saved_choices(db, ["x@example.org", "y@example.org"]) == {"x@example.org": ["Neglect",
                                                                                                "Online safety"]}
    bounce = journal.Bounce("k1", "r00000@example.org", "soft", "4.2.2", "full", "2023-07-02T00:00:00+00:00", run.id)
    assert journal.record_bounce(db, bounce) and not journal.record_bounce(db, bounce)
    assert journal.recipient_for_message_id(db, "0@example.org") == (run.id, "r00000@example.org")
    assert journal.consecutive_soft_bounces(db, "r00000@example.org") == 1
    assert journal.bounce_counts(db, run.id) == {"hard": 0, "soft": 1}
    body = bytes(range(256))
    journal.put_feed_cache(db, journal.FeedCache("https://example.org/feed", '"e"', "", "text/xml", body))
    cached = journal.get_feed_cache(db, "https://example.org/feed")
    assert cached is not None and cached.body == body
    journal.record_collected(db, ["k1", "k2", "k1"], source="s", file="f.yaml")
    assert journal.collected_keys(db) == {"k1", "k2"}
    request = journal.add_request(db, email="New@example.org", mailbox="new@example.org", name="New",
                                  themes=("Neglect",), source="page", consent="Yes 100%")
    claim = journal.claim_request_mail(db, request.id, not_since="2000-01-01", hour_start="2000-01-01", cap=10,
                                       mailable=("unsubscribed",))
    assert claim.status == "claimed" and claim.request == request
    journal.set_request_mail(db, request.id, "sent")
    confirmed = journal.confirm_request(db, "new@example.org", request.nonce)
    assert confirmed is not None and confirmed[1] and confirmed[0].consent == "Yes 100%"
    assert [s.email for s in journal.confirmed_signups(db)] == ["new@example.org"]
    assert journal.use_stamp(db, "stamp-1", at=1000.0) and not journal.use_stamp(db, "stamp-1", at=1001.0)
    assert [journal.count_client(db, "c", at=1000.0 + i, limit=2) for i in range(3)] == [True, True, False]


def test_a_state_is_numbered_at_the_latest_schema(db: journal.Db) -> None:
    assert journal.schema_version(db) == journal.LATEST


def _confirmed(db: journal.Db, email: str, nonce: str) -> tuple[int, bool] | None:
    result = journal.confirm_request(db, email, nonce)
    return None if result is None else (result[0].id, result[1])


def test_consent_is_append_only_and_a_confirmed_address_keeps_its_history(db: journal.Db) -> None:
    first = journal.add_request(db, email="Pat@example.org", mailbox="pat@example.org", name="Pat", themes=None,
                                source="page", consent="Send me the digest")
    journal.set_request_mail(db, first.id, "sent")
    assert journal.confirm_request(db, "pat@example.org", "not-the-nonce") is None
    assert _confirmed(db, "pat@example.org", first.nonce) == (first.id, True)
    assert _confirmed(db, "pat@example.org", first.nonce) == (first.id, False)  # a second click writes nothing
    journal.record_consent_event(db, "pat@example.org", "unsubscribed", source="one-click")
    again = journal.add_request(db, email="pat@example.org", mailbox="pat@example.org", name="Pat", themes=None,
                                source="resubscribe", consent="Send me the digest")
    journal.set_request_mail(db, again.id, "sent")
    assert again.id > first.id and journal.confirm_request(db, "pat@example.org", first.nonce) is None  # superseded
    assert _confirmed(db, "pat@example.org", again.nonce) == (again.id, True)
    events = journal.consent_events(db, "pat@example.org")
    assert [(e.event, e.request) for e in events] == [("confirmed", first.id), ("unsubscribed", None),
                                                       ("confirmed", again.id)]
    stranger = journal.add_request(db, email="x@example.org", mailbox="x@example.org", name="", themes=None,
                                   source="page", consent="Yes")
    assert journal.forget_unconfirmed(db, requested_before="9999") == 1  # the stranger's, never Pat's
    assert journal.get_request(db, stranger.id) is None
    assert [r.id for r in journal.requests_of(db, "pat@example.org")] == [first.id, again.id]


def test_a_person_is_shown_then_forgotten_everywhere(db: journal.Db) -> None:
    run = _plan(db, 2)
    person = "r00001@example.org"
    request = journal.add_request(db, email=person, mailbox=person, name="R", themes=None, source="page",
                                  consent="Yes")
    journal.set_request_mail(db, request.id, "sent")
    journal.confirm_request(db, person, request.nonce)
    journal.set_preferences(db, person, ["Neglect"])
    journal.suppress(db, person, "unsubscribed", "one-click")
    held = journal.person_records(db, person.upper())
    assert [r["issue"] for r in held["recipients"]] == ["2023-07"] and "rowid" not in held["recipients"][0]
    assert {t for t, rows in held.items() if rows} == {"signups", "signup_requests", "consent_events", "preferences",
                                                       "suppressions", "recipients"}
    removed = journal.forget_address(db, person, "erased:hash")
    journal.record_erasure(db, "erased:hash", sum(removed.values()))
    assert sum(removed.values()) == 6 and not any(journal.person_records(db, person).values())
    assert journal.erased_keys(db) == {"erased:hash"}
    assert [r.key for r in journal.run_recipients(db, run.id)] == ["r00000@example.org"]


def test_copy_moves_every_row_and_refuses_a_full_target_without_force(db: journal.Db, tmp_path: Path) -> None:
    run = _plan(db, 5)
    journal.checkpoint(db, run.id, [], claim=2)
    journal.suppress(db, "gone@example.org", "unsubscribed", "one-click")
    target = journal.connect(tmp_path / "copy.db")
    report = journal.copy_state(db, target)
    assert report.counts == journal.row_counts(db) and report.counts["recipients"] == 5
    assert [r.key for r in journal.run_recipients(target, run.id)] == [f"r{i:05d}@example.org" for i in range(5)]
    with pytest.raises(NewsletterError, match="already holds rows"):
        journal.copy_state(db, target)
    assert journal.copy_state(db, target, force=True).replaced


def test_counted_links_add_up_and_the_report_counts_read_back(db: journal.Db) -> None:
    run = _plan(db, 3)
    journal.checkpoint(db, run.id, [], claim=3)
    journal.checkpoint(db, run.id, [journal.Outcome("r00002@example.org", journal.RecipientState.SKIPPED, "quiet")])
    journal.add_clicks(db, {("2023-07", "https://example.org/a"): 2, ("2023-07", "https://example.org/b"): 0})
    journal.add_clicks(db, {("2023-07", "https://example.org/a"): 3})
    assert journal.click_counts(db, "2023-07") == {"https://example.org/a": 5}
    journal.suppress(db, "gone@example.org", "unsubscribed", "one-click")
    assert journal.suppressions_between(db, None, None) == {"unsubscribed": 1}  # open-ended on both engines
    assert journal.suppressions_between(db, "9999", None) == {}
    assert journal.confirmed_signups_between(db, None, "0000") == 0
    assert journal.list_size(db, run.id) == 2
