"""Item files: the contract of DESIGN.md and every error with its exact message."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from support.project import item_yaml

from newsletter.errors import ErrorList, NewsletterError
from newsletter.issue.items import load_items


def errors_of(folder: Path) -> list[str]:
    with pytest.raises(NewsletterError) as info:
        load_items(folder, root=folder.parent)
    return info.value.lines()


def test_one_item_per_file_and_a_list_per_file(write_item, empty_project):
    write_item(item_yaml(title="Single"), "single.yaml")
    write_item("- " + item_yaml(title="First", url="https://example.org/1").replace("\n", "\n  ").rstrip()
               + "\n- " + item_yaml(title="Second", url="https://example.org/2").replace("\n", "\n  ").rstrip()
               + "\n", "list.yaml")
    items = load_items(empty_project / "items")
    assert sorted(i.title for i in items) == ["First", "Second", "Single"]
    first = next(i for i in items if i.title == "First")
    assert first.date == dt.date(2023, 7, 10)
    assert first.links[0].url == "https://example.org/1"
    assert first.line == 1
    assert next(i for i in items if i.title == "Second").line == 10


def test_optional_fields_are_loaded(write_item, empty_project):
    write_item(item_yaml() + "see_also:\n  - title: More\n    url: https://example.org/more\n"
               "image:\n  src: https://example.org/a.jpg\n  alt: A child reading\n")
    [item] = load_items(empty_project / "items")
    assert item.see_also[0].title == "More"
    assert item.image is not None and item.image.alt == "A child reading"


def test_yaml_syntax_error_names_file_and_line(write_item, empty_project):
    write_item("title: Broken\ndate: 2023-07-01\nlinks: [oops\nsource: x\n", "bad.yaml")
    [error] = errors_of(empty_project / "items")
    # What the parser calls the problem is PyYAML's wording (it may change); the rest is ours.
    assert error.startswith("items/bad.yaml:4: YAML syntax error: ")
    assert error.endswith(" (check indentation and quote values containing ':' or '#')")


def test_missing_unknown_and_empty_fields(write_item, empty_project):
    write_item("title: ''\ndate: 2023-07-01\nsorce: NSPCC\ntheme: Neglect\nsummary: Hi\n"
               "links:\n  - label: Read\n    title: T\n    url: https://example.org/x\n")
    assert errors_of(empty_project / "items") == [
        "items/item.yaml:3: sorce: unknown field (did you mean 'source'?)",
        "items/item.yaml:1: title: is empty (write a value or remove the item)",
        "items/item.yaml:1: source: missing (add `source:`)",
    ]


def test_impossible_date(write_item, empty_project):
    write_item(item_yaml(date="2023-02-30"))
    assert errors_of(empty_project / "items") == [
        "items/item.yaml:2: date: not a real date: '2023-02-30' (write it as YYYY-MM-DD, e.g. 2023-07-03)"
    ]


@pytest.mark.parametrize("url, problem", [
    ("ftp://example.org/file", "must start with https://, http:// or mailto:"),
    ("javascript:alert(1)", "must start with https://, http:// or mailto:"),
    ("https://example", "has no host name"),
    ("'https://example.org/a b'", "contains spaces"),
])
def test_bad_urls(write_item, empty_project, url, problem):
    write_item(item_yaml(url=url))
    shown = url.strip("'")
    assert errors_of(empty_project / "items") == [
        f"items/item.yaml:9: links[1].url: bad URL {shown!r}: {problem} (copy the full address from the browser)"
    ]


def test_mailto_links_are_accepted(write_item, empty_project):
    write_item(item_yaml(url="mailto:info@example.org"))
    assert load_items(empty_project / "items")[0].links[0].url == "mailto:info@example.org"


def test_duplicates_by_title_and_date_and_by_link(write_item, empty_project):
    write_item(item_yaml(title="Same", url="https://example.org/1"), "a.yaml")
    write_item(item_yaml(title="same", url="https://example.org/2"), "b.yaml")
    write_item(item_yaml(title="Other", url="https://example.org/1/"), "c.yaml")
    assert errors_of(empty_project / "items") == [
        "items/b.yaml:1: title: duplicate of the item at items/a.yaml:1 (same title and date) (delete one of them)",
        "items/c.yaml:9: links: duplicate link https://example.org/1/ (also in the item at items/a.yaml:1) "
        "(an item should appear once; merge or delete one)",
    ]


def test_every_bad_item_is_reported_at_once(write_item, empty_project):
    write_item(item_yaml(date="2023-13-01"), "a.yaml")
    write_item(item_yaml(title="B", url="gopher://x.org", date="2023-07-02"), "b.yaml")
    write_item("title: [unclosed\n", "c.yaml")
    with pytest.raises(ErrorList) as info:
        load_items(empty_project / "items", root=empty_project)
    assert [line.split(":")[0] for line in info.value.lines()] == ["items/a.yaml", "items/b.yaml", "items/c.yaml"]


def test_empty_links(write_item, empty_project):
    write_item(item_yaml().split("links:")[0] + "links: []\n")
    assert errors_of(empty_project / "items") == [
        "items/item.yaml:6: links: is empty (add at least one {label, title, url})"
    ]


def test_links_must_be_a_list_of_mappings(write_item, empty_project):
    write_item(item_yaml().split("links:")[0] + "links: https://example.org/x\n")
    assert errors_of(empty_project / "items") == [
        "items/item.yaml:6: links: must be a list of mappings (see docs/reference/items.md for the `links` format)"
    ]


def test_sample_items_load_cleanly():
    from support.themekit import REPO

    items = load_items(REPO / "items")
    assert len(items) >= 15
    assert len({i.theme.casefold().replace(" ", "") for i in items}) >= 5
    assert any(i.image for i in items) and any(len(i.links) > 1 for i in items) and any(i.see_also for i in items)


def test_texts_per_language_are_read_and_chosen_per_reader(write_item, empty_project):
    write_item("title: {en: Barriers, cy: Rhwystrau}\ndate: 2023-07-06\nsource: DfE\ntheme: Neglect\n"
               "summary:\n  cy: Mae ymarferwyr yn petruso.\n  en: Practitioners hesitate.\n"
               "links:\n  - label: {en: Read, cy: Darllen}\n    title: One title\n    url: https://example.org/r\n")
    [item] = load_items(empty_project / "items")
    assert (item.title, item.summary) == ("Barriers", "Mae ymarferwyr yn petruso.")  # as written, first first
    welsh = item.in_language("cy")
    assert (welsh.title, welsh.summary, welsh.links[0].label, welsh.links[0].title) == (
        "Rhwystrau", "Mae ymarferwyr yn petruso.", "Darllen", "One title")
    assert item.in_language("en").summary == "Practitioners hesitate."
    assert item.missing_languages({"cy", "en", "fr"}) == [("title", "fr"), ("summary", "fr"), ("links[1].label", "fr")]
    assert item.line_of("summary") == 5


def test_a_text_per_language_with_a_bad_tag_or_an_empty_text_is_an_error_at_its_line(write_item, empty_project):
    write_item("title: {en: Barriers, xx-nope: Rhwystrau}\ndate: 2023-07-06\nsource: DfE\ntheme: Neglect\n"
               "summary:\n  en: ''\n"
               "links:\n  - label: Read\n    title: T\n    url: https://example.org/r\n")
    errors = errors_of(empty_project / "items")
    assert [e.split(":")[:3] for e in errors] == [["items/item.yaml", "1", " title.xx-nope"],
                                                  ["items/item.yaml", "6", " summary.en"]]


def test_a_regional_reader_reads_the_languages_text(write_item, empty_project):
    write_item(item_yaml(title="{cy: Rhwystrau, en: Barriers}"))
    [item] = load_items(empty_project / "items")
    assert item.in_language("en-GB").title == "Barriers" and item.missing_languages({"en-GB", "cy-GB"}) == []
