"""Editorial rules: placeholders, embargoes, items already sent, items that missed the
issue, link text that says nothing. Each finding points at the line to edit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from support.project import item_yaml

from newsletter.config import load_config
from newsletter.daterange import DateRange
from newsletter.issue.build import BuildResult, build_issue
from newsletter.issue.checks.editorial import BOILERPLATE, placeholder_in
from newsletter.start import item_template

JULY = DateRange(dt.date(2023, 7, 1), dt.date(2023, 7, 31))
NOW = dt.datetime(2023, 8, 1, 9, 0, tzinfo=dt.UTC)


def build(project: Path, now: dt.datetime = NOW) -> BuildResult:
    return build_issue(load_config(project / "newsletter.yaml"), JULY, write=False, now=now)


def found(result: BuildResult, rule: str) -> list[tuple[str, str]]:
    return [(f.where, f.message) for f in result.findings if f.rule == rule]


def test_placeholder_text_is_an_error_at_its_line(empty_project: Path, write_item: Callable[..., Path]) -> None:
    write_item(item_yaml(summary="TK - two sentences on the findings."), "a.yaml")
    write_item(item_yaml(title="A second briefing", url="https://example.org/b",
                         summary="The TKO campaign, and todo lists for teams."), "b.yaml")  # words, not markers
    write_item(item_yaml(title="Lorem ipsum dolor", url="https://example.org/c"), "c.yaml")
    result = build(empty_project)
    assert found(result, "placeholder") == [
        ("items/a.yaml:5", "'A briefing on neglect' still has placeholder text in summary: 'TK'"),
        ("items/c.yaml:1", "'Lorem ipsum dolor' still has placeholder text in title: 'Lorem ipsum'"),
    ]
    assert all(f.severity == "error" for f in result.findings if f.rule == "placeholder")


def test_the_boilerplate_of_new_and_init_is_recognised(empty_project: Path) -> None:
    config = load_config(empty_project / "newsletter.yaml")
    (empty_project / "items" / "new.yaml").write_text(item_template(config, "Our report", dt.date(2023, 7, 3)))
    [(where, message)] = found(build(empty_project), "placeholder")
    assert where == "items/new.yaml:6" and "Say what it is, who it is for and why it matters" in message
    from newsletter.start import _STARTERS
    assert all(placeholder_in(starter[3]) for starter in _STARTERS)
    assert len(BOILERPLATE) == 1 + len(_STARTERS)


def test_an_embargo_still_ahead_is_an_error_until_it_passes(empty_project: Path,
                                                             write_item: Callable[..., Path]) -> None:
    write_item(item_yaml(embargo_until="2023-08-01 10:00+00:00"))
    assert found(build(empty_project), "embargo") == [
        ("items/item.yaml:6", "'A briefing on neglect' is embargoed until 2023-08-01 10:00 +0000")]
    assert found(build(empty_project, now=NOW + dt.timedelta(hours=1)), "embargo") == []


def test_a_bad_embargo_is_an_item_error_at_its_line(empty_project: Path, write_item: Callable[..., Path]) -> None:
    import pytest

    from newsletter.errors import NewsletterError
    write_item(item_yaml(embargo_until="next Tuesday"))
    with pytest.raises(NewsletterError) as caught:
        build(empty_project)
    assert str(caught.value).startswith("items/item.yaml:6: embargo_until: not a date or a date and time")


def test_an_item_already_in_an_earlier_issue_is_named_at_both_lines(empty_project: Path,
                                                                     write_item: Callable[..., Path]) -> None:
    write_item(item_yaml(title="'Neglect: the new guidance'", date="2023-06-20", url="https://example.org/june"),
               "2023-06-20-guidance.yaml")
    write_item(item_yaml(title="Neglect - the new guidance!", date="2023-07-05", url="https://example.org/july"),
               "2023-07-05-guidance.yaml")
    assert found(build(empty_project), "already-sent") == [
        ("items/2023-07-05-guidance.yaml:1", "'Neglect - the new guidance!' was already in an earlier issue: "
                                            "items/2023-06-20-guidance.yaml:1 (dated 2023-06-20)")]


def test_an_item_named_for_this_issue_but_dated_elsewhere_is_flagged(empty_project: Path,
                                                                      write_item: Callable[..., Path]) -> None:
    write_item(item_yaml(), "2023-07-10-briefing.yaml")
    write_item(item_yaml(title="Late", date="2023-08-02", url="https://example.org/late"), "2023-07-28-late.yaml")
    assert found(build(empty_project), "out-of-range") == [
        ("items/2023-07-28-late.yaml:2", "the file is named for 2023-07-28 but dated 2023-08-02, so it is not in "
                                        "this issue (2023-07)")]


def test_link_text_that_says_nothing(empty_project: Path, write_item: Callable[..., Path]) -> None:
    write_item(item_yaml().replace("label: Read the briefing", "label: Click here")
               + "  - label: Also\n    title: read more\n    url: https://example.org/more\n")
    assert {where for where, _ in found(build(empty_project), "generic-link-text")} == {
        "items/item.yaml:7", "items/item.yaml:11"}  # the button's label, the second link's title


def test_the_sample_has_no_editorial_findings(project: Path) -> None:
    result = build(project)
    assert [f for f in result.findings if f.rule in
            {"placeholder", "embargo", "already-sent", "out-of-range", "generic-link-text"}] == []


def test_example_domains_are_errors_once_the_config_sends_through_a_remote_relay(project: Path) -> None:
    def placeholders() -> list[str]:
        return [f.where for f in build(project).findings if f.rule == "placeholder"]

    assert placeholders() == []  # the sample rehearses into its outbox: example.org is fine there
    with open(project / "newsletter.yaml", "a", encoding="utf-8") as fh:
        fh.write("smtp: {host: smtp.charity-news.org.uk, port: 587, security: starttls}\n")
    found = placeholders()
    assert "newsletter.yaml:3" in found and "newsletter.yaml:33" in found  # from:, unsubscribe.url:
    assert not any(where.startswith("items/") for where in found)  # the sample's items link real pages
    (project / "items" / "2023-07-30-mine.yaml").write_text(item_yaml(date="2023-07-30", url="https://example.org/x"))
    assert "items/2023-07-30-mine.yaml:9" in placeholders()  # a link nobody can follow
    (project / "items" / "2023-07-30-mine.yaml").unlink()
    with open(project / "newsletter.yaml", "a", encoding="utf-8") as fh:
        fh.write("# a loopback test relay instead:\nsmtp: {host: 127.0.0.1, port: 2525, security: none}\n")
    (project / "newsletter.yaml").write_text((project / "newsletter.yaml").read_text().replace(
        "smtp: {host: smtp.charity-news.org.uk, port: 587, security: starttls}\n", ""))
    assert placeholders() == []
