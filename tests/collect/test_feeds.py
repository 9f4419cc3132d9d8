"""Feeds in: HTML -> Markdown summaries, parsing real feed documents, downloading them
from a local HTTP server (errors, timeouts, conditional GET)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from support.feedserver import DATA, FeedServer

from newsletter.collect.feedhtml import convert_html, plain_text, strip_tracking
from newsletter.collect.feeds import fetch_feed, link_label, parse_feed
from newsletter.errors import CollectError
from newsletter.issue import summary_html, summary_text
from newsletter.journal import FeedCache


def _feed(name: str, **kwargs: str):
    return parse_feed((DATA / name).read_bytes(), where=name, **kwargs)


def _flat(text: str) -> str:
    return " ".join(text.split())


# --- HTML -> Markdown -----------------------------------------------------------------


def test_scripts_styles_and_tracking_pixels_are_dropped() -> None:
    summary = convert_html(
        '<script>var x = "<p>hidden</p>";</script><style>p { color: red }</style>'
        "<p>Visible text.</p><noscript>Enable JavaScript</noscript>"
        '<img src="https://stats.example.net/p.gif" width="1" height="1" alt="">'
        '<img src="https://cdn.example.org/beacon?id=3" alt="x">'
        '<img src="https://example.org/photo.jpg" style="display: none" alt="hidden">'
        '<iframe src="https://video.example.org/embed"><p>frame text</p></iframe>'
    )
    assert summary.markdown == "Visible text."
    assert summary.pictures == ()


def test_a_described_image_is_kept_apart_from_the_text() -> None:
    summary = convert_html('<p>Text.</p><img src="https://example.org/a.jpg" alt="A park at dusk" width="600">'
                           '<img src="https://example.org/b.jpg">')
    assert summary.markdown == "Text."
    assert [(p.src, p.alt) for p in summary.pictures] == [("https://example.org/a.jpg", "A park at dusk")]


def test_emphasis_links_lists_and_quotes_become_markdown() -> None:
    summary = convert_html(
        '<p>A <strong>new</strong> <em>study</em> by <a href="https://example.org/s?utm_source=rss&amp;id=4#top">'
        "the centre</a>.</p><ul><li>first</li><li>second</li></ul><blockquote>Said a parent.</blockquote>"
        '<p><a href="javascript:alert(1)">bad link</a> and <a href="file:///etc/passwd">a file</a></p>'
    )
    assert summary.markdown == (
        "A **new** *study* by [the centre](https://example.org/s?id=4#top).\n\n"
        "- first\n- second\n\n> Said a parent.\n\nbad link and a file"
    )


def test_entities_and_markdown_characters_show_as_written() -> None:
    markup = ("<p>Caf&eacute; &amp; &ldquo;bar&rdquo; &#8211; 5 * 3 = [15] &lt;b&gt;not bold&lt;/b&gt; "
              "snake_case `tick` &amp;copy;</p><p># not a heading</p><p>1. not a list</p><p>- nor this</p>")
    summary = convert_html(markup)
    # What the reader sees equals the HTML's visible text: nothing became Markdown syntax.
    rendered = summary_text(summary.markdown)
    assert _flat(rendered) == _flat(plain_text(markup))
    assert "Café & “bar” – 5 * 3 = [15] <b>not bold</b> snake_case `tick` &copy;" in rendered
    html = summary_html(summary.markdown)
    assert "<h1>" not in html and "<ol>" not in html and "<ul>" not in html and "<b>" not in html


def test_long_descriptions_are_trimmed_at_a_sentence_end() -> None:
    sentences = [f"Sentence {n} has exactly seven words here." for n in range(1, 41)]
    summary = convert_html("<p>" + " ".join(sentences) + "</p>")
    words = len(summary.markdown.split())
    assert 80 <= words <= 120
    assert summary.markdown.endswith("here.")
    assert summary.trimmed and summary.words == 280


def test_paragraphs_are_kept_whole_until_about_eighty_words() -> None:
    para = " ".join(["word"] * 49) + " end."
    summary = convert_html(f"<p>{para}</p><p>{para}</p><p>{para}</p>")
    assert summary.markdown == f"{para}\n\n{para}"
    assert summary.trimmed


def test_text_without_sentence_ends_is_cut_with_an_ellipsis() -> None:
    summary = convert_html("<p>" + " ".join(f"w{n}" for n in range(300)) + "</p>")
    assert summary.markdown.endswith("w119…")
    assert len(summary.markdown.split()) == 120


def test_short_descriptions_are_whole() -> None:
    summary = convert_html("<p>One.</p><p>Two.</p>")
    assert summary.markdown == "One.\n\nTwo." and not summary.trimmed


def test_blog_boilerplate_is_dropped() -> None:
    summary = convert_html(
        "<p>Three councils have joined the scheme [&hellip;]</p>"
        '<p>The post <a href="https://b.example.org/p">Scheme grows</a> appeared first on '
        '<a href="https://b.example.org">Blog</a>.</p><p><a href="https://b.example.org/p">Continue reading '
        "<span>&rarr;</span></a></p>")
    assert summary.markdown == "Three councils have joined the scheme…"


def test_tracking_parameters_are_removed_from_urls() -> None:
    assert strip_tracking("https://e.org/a?utm_source=x&b=1&utm_medium=y&fbclid=z") == "https://e.org/a?b=1"
    assert strip_tracking("https://e.org/a") == "https://e.org/a"


# --- parsing real documents -----------------------------------------------------------


def test_rss2_entries() -> None:
    feed = _feed("rss2.xml")
    assert feed.title == "Northfield Safeguarding Partnership: news" and feed.warning is None
    first, second = feed.entries[:2]
    assert first.guid == "nsp-news-1041"
    assert first.link == "https://nsp.example.org/news/online-grooming-guidance"  # utm_* dropped
    assert first.tags == ("Online safety",)
    assert first.date == dt.date(2023, 7, 18)
    # 00:30 on 1 July in +01:00 is 30 June in UTC: the publisher's date wins
    assert second.date == dt.date(2023, 7, 1)
    assert [e.date.month for e in feed.entries] == [7, 7, 6, 8]


def test_atom_entries() -> None:
    feed = _feed("atom.xml")
    briefing, views, call = feed.entries
    assert briefing.title == "Coercive control & children: a research briefing"
    assert briefing.guid == "tag:cfr.example.org,2023:pub-212"
    assert briefing.date == dt.date(2023, 7, 11)  # published, not updated
    assert briefing.tags == ("domestic-abuse", "Domestic abuse")
    assert briefing.summary.markdown.startswith("This briefing brings together **recent studies**")
    assert views.date == dt.date(2023, 7, 25)  # only <updated>
    assert views.summary.trimmed and 80 <= len(views.summary.markdown.split()) <= 120
    assert call.date == dt.date(2023, 5, 30)


def test_rss_with_html_and_entities() -> None:
    knife, cafe = _feed("rss-html.xml").entries
    assert knife.title == "Detached youth work & knife crime: what works?"
    md = knife.summary.markdown
    assert "track(" not in md and "color:red" not in md and "pixel" not in md and "feedburner" not in md
    assert "– in parks, car parks and outside takeaways –" in md
    assert "*threats*" in md and "**rivalries**" in md and "“step back”" in md
    assert "[the full evaluation](https://ywt.example.org/evaluation.pdf)" in md
    assert knife.image is not None and knife.image.src.endswith("street-team.jpg")
    assert knife.image.alt.startswith("Two youth workers")
    assert cafe.title == "Café conversations: talking about consent"
    assert "“café conversations”" in cafe.summary.markdown
    assert "consent & healthy relationships" in summary_text(cafe.summary.markdown)
    assert "5 * 3 = 15 minutes of structured talk [each week]" in summary_text(cafe.summary.markdown)


@pytest.mark.parametrize("content_type", ["", "application/rss+xml", "text/xml", "text/xml; charset=ISO-8859-1"])
def test_a_feed_declaring_iso_8859_1(content_type: str) -> None:
    feed = _feed("latin1.xml", content_type=content_type)
    (entry,) = feed.entries
    assert feed.title == "Réseau européen de protection de l'enfance"
    assert "coûts estimés à £12 millions" in entry.summary.markdown
    assert "élèves de Zürich" in entry.summary.markdown
    assert feed.warning is None


def test_a_malformed_feed_is_an_error_naming_the_line() -> None:
    with pytest.raises(CollectError) as caught:
        _feed("malformed.xml")
    assert re.match(r"malformed\.xml:4: not a readable feed: not well-formed", str(caught.value))


def test_a_web_page_is_not_a_feed() -> None:
    with pytest.raises(CollectError, match="not a readable feed"):
        parse_feed(b"<html><head><title>Home</title></head><body><p>Welcome</p></body></html>", where="page")


def test_a_feed_with_an_error_after_its_entries_is_read_with_a_warning() -> None:
    body = (DATA / "rss2.xml").read_bytes().replace(b"</channel>", b"<broken & </channel>")
    feed = parse_feed(body, where="x")
    assert len(feed.entries) == 4 and feed.warning and "not well-formed" in feed.warning


def test_rss_091_and_rss_10() -> None:
    (old,) = _feed("rss091.xml").entries
    assert old.title == "Information sharing protocol refreshed"
    assert old.date == dt.date(2023, 7, 24)  # items have no date: the channel's
    (rdf,) = _feed("rss10.rdf").entries
    assert rdf.date == dt.date(2023, 7, 19) and rdf.tags == ("Neglect",)
    assert rdf.link == "https://lib.example.ac.uk/record/88123"


def test_relative_links_resolve_against_the_feed_url_and_file_links_are_refused() -> None:
    body = b"""<rss version="2.0"><channel><title>T</title>
      <item><title>Relative</title><link>/news/a</link><pubDate>Mon, 03 Jul 2023 09:00:00 GMT</pubDate></item>
      <item><title>File</title><link>file:///etc/passwd</link><pubDate>Mon, 03 Jul 2023 09:00:00 GMT</pubDate></item>
    </channel></rss>"""
    relative, local = parse_feed(body, where="x", url="https://site.example.org/feed.xml").entries
    assert relative.link == "https://site.example.org/news/a"
    assert local.link == ""


def test_link_labels() -> None:
    assert link_label("Coercive control and children: a research briefing") == "Read the briefing"
    assert link_label("Partnership annual report 2022 to 2023") == "Read the report"
    assert link_label("Summer holiday safety campaign") == "Read the article"
    assert link_label("Anything", ("Consultation",)) == "Read the consultation"


# --- downloading ----------------------------------------------------------------------


def test_download_and_conditional_get(feed_server: FeedServer) -> None:
    url = feed_server.serve_file("/feed.xml", "rss2.xml", etag='"v1"', last_modified="Fri, 28 Jul 2023 10:00:00 GMT")
    first = fetch_feed(url, timeout=5)
    assert first.status == 200 and first.body == (DATA / "rss2.xml").read_bytes()
    assert first.etag == '"v1"' and first.content_type == "application/rss+xml"
    second = fetch_feed(url, timeout=5, cached=first.cache())
    sent = feed_server.answered("/feed.xml")[-1]
    assert sent.headers["if-none-match"] == '"v1"'
    assert sent.headers["if-modified-since"] == "Fri, 28 Jul 2023 10:00:00 GMT"
    assert sent.status == 304
    assert second.not_modified and second.body == first.body


def test_a_changed_feed_is_downloaded_again(feed_server: FeedServer) -> None:
    url = feed_server.serve_file("/feed.xml", "rss2.xml", etag='"v2"')
    stale = FeedCache(url, '"v1"', "", "application/rss+xml", b"old")
    again = fetch_feed(url, timeout=5, cached=stale)
    assert again.status == 200 and again.body != b"old" and again.etag == '"v2"'


def test_http_errors_name_the_status(feed_server: FeedServer) -> None:
    with pytest.raises(CollectError) as caught:
        fetch_feed(feed_server.url("/gone.xml"), timeout=5)
    assert str(caught.value).startswith(f"{feed_server.url('/gone.xml')}: HTTP 404 Not Found")
    assert "moved or gone" in str(caught.value)


def test_a_slow_source_times_out(feed_server: FeedServer) -> None:
    url = feed_server.serve_file("/slow.xml", "rss2.xml", delay=10)
    with pytest.raises(CollectError, match="timed out after 0.5 s"):
        fetch_feed(url, timeout=0.5)


def test_nothing_listens_there() -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(CollectError, match="cannot download"):
        fetch_feed(f"http://127.0.0.1:{port}/feed.xml", timeout=2)
