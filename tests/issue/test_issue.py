"""Date ranges, selection at the boundaries, theme order and matching."""

from __future__ import annotations

import datetime as dt

import pytest
from support.project import item_yaml

from newsletter.config import load_config
from newsletter.daterange import parse_range
from newsletter.errors import BuildError, NewsletterError
from newsletter.issue.items import load_items
from newsletter.issue.selection import make_issue, select_items


def test_month_is_first_to_last_day_inclusive():
    r = parse_range("2023-07", None, None)
    assert (r.start, r.end, r.slug, r.label) == (dt.date(2023, 7, 1), dt.date(2023, 7, 31), "2023-07", "July 2023")
    assert parse_range("2024-02", None, None).end == dt.date(2024, 2, 29)


def test_since_until_inclusive_and_custom_slug():
    r = parse_range(None, "2023-06-15", "2023-07-14")
    assert r.slug == "2023-06-15_2023-07-14"
    assert r.label == "15 June to 14 July 2023"


def test_default_is_last_full_month():
    r = parse_range(None, None, None, today=dt.date(2024, 1, 15))
    assert (r.start, r.end) == (dt.date(2023, 12, 1), dt.date(2023, 12, 31))


@pytest.mark.parametrize("args, message", [
    (("2023-13", None, None), "not a month: '2023-13' (write it as YYYY-MM, e.g. 2023-07)"),
    (("July", None, None), "not a month: 'July' (write it as YYYY-MM, e.g. 2023-07)"),
    ((None, "2023-07-31", "2023-07-01"), "--since 2023-07-31 is after --until 2023-07-01 (swap the two dates)"),
    ((None, "2023-7-1", None), "--since: not a date: '2023-7-1' (write it as YYYY-MM-DD)"),
    (("2023-07", "2023-07-01", None), "give a month or --since/--until, not both (e.g. build 2023-07)"),
])
def test_bad_ranges(args, message):
    with pytest.raises(BuildError) as info:
        parse_range(*args)
    assert str(info.value) == message


def test_boundaries_first_and_last_day_are_included(project):
    items = load_items(project / "items")
    july = select_items(items, parse_range("2023-07", None, None))
    dates = {i.date for i in july}
    assert dt.date(2023, 7, 1) in dates and dt.date(2023, 7, 31) in dates
    assert not any(i.date in (dt.date(2023, 6, 30), dt.date(2023, 8, 1)) for i in july)


def test_themes_follow_config_order_newest_first_case_insensitive(project, config):
    issue = make_issue(load_items(project / "items"), config, parse_range("2023-07", None, None))
    assert issue.themes == [t for t in config.themes if t in issue.themes]
    for section in issue.sections:
        dates = [i.date for i in section.items]
        assert dates == sorted(dates, reverse=True)
    youth = next(s for s in issue.sections if s.theme == "Youth violence")
    assert any(i.theme != "Youth violence" for i in youth.items)  # written 'youth  Violence' in the file


def test_empty_themes_are_omitted(write_item, empty_project):
    write_item(item_yaml(theme="neglect"))
    config = load_config(empty_project / "newsletter.yaml")
    issue = make_issue(load_items(empty_project / "items"), config, parse_range("2023-07", None, None))
    assert issue.themes == ["Neglect"]


def test_unknown_theme_has_did_you_mean(write_item, empty_project):
    write_item(item_yaml(theme="Neglectt"))
    config = load_config(empty_project / "newsletter.yaml")
    with pytest.raises(NewsletterError) as info:
        make_issue(load_items(empty_project / "items", root=empty_project), config, parse_range("2023-07", None, None))
    assert str(info.value) == "items/item.yaml:4: theme: unknown theme 'Neglectt' (did you mean 'Neglect'?)"


def test_missing_theme_names_the_choices(write_item, empty_project):
    write_item(item_yaml(theme="''"))
    config = load_config(empty_project / "newsletter.yaml")
    with pytest.raises(NewsletterError) as info:
        make_issue(load_items(empty_project / "items", root=empty_project), config, parse_range("2023-07", None, None))
    assert str(info.value).startswith("items/item.yaml:4: theme: no theme set (set one of: Domestic abuse, ")


def test_empty_range_is_an_error(project, config):
    with pytest.raises(BuildError) as info:
        make_issue(load_items(project / "items"), config, parse_range("2022-01", None, None))
    assert str(info.value) == ("items/: no items dated 2022-01-01 to 2022-01-31 "
                               "(check the month, or add item files with dates in that range)")
