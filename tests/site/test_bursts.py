"""The in-memory burst filter on its own: what counts, what is dropped, what is forgotten."""

from __future__ import annotations

from collections import Counter

from newsletter.site.bursts import BURST_LINKS, WINDOW, BurstFilter


def test_a_reader_clicking_one_link_again_counts_every_click() -> None:
    bursts = BurstFilter()
    reader = bursts.client("192.0.2.1", "Firefox")
    for second in range(3):
        bursts.hit(reader, "2023-07", "https://example.org/a", 100.0 + second)
    assert bursts.closed(100.0 + WINDOW - 1) == {}  # still held
    assert bursts.closed(100.0 + WINDOW) == {("2023-07", "https://example.org/a"): 3}
    assert bursts.open_windows == 0  # forgotten once counted


def test_a_sweep_over_many_links_counts_nothing() -> None:
    bursts = BurstFilter()
    scanner = bursts.client("198.51.100.7", "")
    for i in range(BURST_LINKS):
        bursts.hit(scanner, "2023-07", f"https://example.org/{i}", 100.0 + i * 0.1)
    assert bursts.drain() == {}


def test_the_canary_drops_the_hits_before_and_after_it_in_that_window() -> None:
    bursts = BurstFilter()
    bot, person = bursts.client("203.0.113.5", "bot"), bursts.client("203.0.113.5", "Safari")
    bursts.hit(bot, "2023-07", "https://example.org/a", 100.0)
    bursts.canary(bot, "2023-07", 101.0)
    bursts.hit(bot, "2023-07", "https://example.org/b", 102.0)
    bursts.hit(person, "2023-07", "https://example.org/a", 102.0)  # same address, another browser
    assert bursts.drain() == {("2023-07", "https://example.org/a"): 1}


def test_clients_are_names_that_mean_nothing_to_another_process() -> None:
    one, two = BurstFilter(), BurstFilter()
    assert one.client("192.0.2.1", "Firefox") == one.client("192.0.2.1", "Firefox")
    assert one.client("192.0.2.1", "Firefox") != two.client("192.0.2.1", "Firefox")
    assert "192.0.2.1" not in one.client("192.0.2.1", "Firefox")


def test_a_flood_of_clients_is_bounded_and_closes_the_oldest_early() -> None:
    bursts = BurstFilter(max_windows=3)
    closed: Counter[tuple[str, str]] = Counter()
    for i in range(5):
        closed += bursts.hit(bursts.client(f"10.0.0.{i}", ""), "2023-07", "https://example.org/a", 100.0)
    assert bursts.open_windows == 3
    assert closed == {("2023-07", "https://example.org/a"): 2}  # the two oldest, counted early, not lost
    assert sum(bursts.drain().values()) == 3
