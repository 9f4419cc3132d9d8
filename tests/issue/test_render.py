"""Rendering: escaping, quality bars of the HTML and text parts, size."""

from __future__ import annotations

import datetime as dt
import re

from lxml import html as lxml_html
from support.project import item_yaml

from newsletter.config import load_config
from newsletter.daterange import DateRange, parse_range
from newsletter.issue.build import build_issue, prepare_issue
from newsletter.issue.items import Item, Link
from newsletter.issue.render import GMAIL_CLIP_BYTES, render_issue
from newsletter.issue.selection import Issue, Section

JULY = parse_range("2023-07", None, None)


def test_script_and_ampersand_are_escaped(write_item, empty_project):
    write_item(item_yaml(title="Tom & Jerry <script>alert(1)</script>",
                         summary="'Fish & chips <script>alert(2)</script> <b>bold</b>'"))
    config = load_config(empty_project / "newsletter.yaml")
    rendered = render_issue(prepare_issue(config, JULY), config)
    assert "<script>" not in rendered.html
    assert "Tom &amp; Jerry &lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "Fish &amp; chips &lt;script&gt;alert(2)&lt;/script&gt; &lt;b&gt;bold&lt;/b&gt;" in rendered.html
    assert "Tom & Jerry <script>alert(1)</script>" in rendered.text


def test_html_quality_bars(config):
    rendered = render_issue(prepare_issue(config, JULY), config)
    doc = lxml_html.fromstring(rendered.html)
    assert doc.get("lang") == "en-GB"
    tables = doc.findall(".//table")
    assert tables and all(t.get("role") == "presentation" for t in tables)
    wrap = doc.find_class("wrap")[0]  # fluid: 100% up to 600 px, even without <style>
    assert wrap.get("width") == "100%" and "max-width:600px" in wrap.get("style").replace(" ", "")
    assert '<!--[if mso]><table role="presentation" align="center" width="600"' in rendered.html  # Outlook
    assert all(img.get("alt") for img in doc.iter("img"))
    style = "".join(s.text or "" for s in doc.iter("style"))
    assert "@media screen and (max-width:620px)" in style and "!important" in style
    assert "prefers-color-scheme:dark" in style
    preheader = doc.xpath("//body/div[1]")[0]
    assert "display:none" in preheader.get("style") and rendered.preheader in preheader.text_content()
    # everything else is inlined: no class-only styling left outside @media
    assert re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}", "", style).strip() == ""
    assert 'style="' in rendered.html.split("<body", 1)[1]


def test_table_of_contents_links_to_sections(config):
    rendered = render_issue(prepare_issue(config, JULY), config)
    doc = lxml_html.fromstring(rendered.html)
    toc = [a.get("href") for a in doc.xpath("//ul[@class='toc']//a")]
    assert toc and all(doc.get_element_by_id(href[1:]) is not None for href in toc)
    assert [a.text for a in doc.xpath("//ul[@class='toc']//a")] == rendered.issue.themes


def test_default_preheader_comes_from_the_toc(config):
    rendered = render_issue(prepare_issue(config, JULY), config)
    assert rendered.preheader.startswith("12 new items in this issue: Domestic abuse (2), ")


def test_text_part_is_wrapped_and_writes_every_link(config):
    rendered = render_issue(prepare_issue(config, JULY), config)
    for line in rendered.text.splitlines():
        assert len(line) <= 72 or re.search(r"https?://\S+$", line), line
    doc = lxml_html.fromstring(rendered.html)
    html_links = {a.get("href") for a in doc.iter("a") if a.get("href", "").startswith("http")}
    for url in html_links:
        assert url in rendered.text


def test_text_follows_the_html_order(config):
    rendered = render_issue(prepare_issue(config, JULY), config)
    titles = [i.title for i in rendered.issue.items]
    positions = [rendered.text.index(t.split(":")[0][:30]) for t in titles]
    assert positions == sorted(positions)


def test_sample_issue_is_under_gmail_clip_and_has_no_long_lines(project):
    config = load_config(project / "newsletter.yaml")
    result = build_issue(config, JULY)
    assert len(result.files["email.html"]) < GMAIL_CLIP_BYTES
    assert not result.warnings
    for name in ("email.html", "email.txt", "sample.eml"):
        assert max(len(line) for line in result.files[name].split(b"\n")) <= 998


def _generated_issue(count: int) -> Issue:
    items = tuple(
        Item(title=f"A report on practice number {n} in child protection", date=dt.date(2023, 7, 1 + n % 28),
             source="Research in Practice", theme="Neglect",
             summary=("The report draws on interviews with practitioners and families, and sets out "
                      "what helps and what gets in the way of good practice. ") * 2,
             links=(Link("Read the report", f"Report number {n}", f"https://example.org/reports/{n}"),))
        for n in range(count)
    )
    return Issue(DateRange(dt.date(2023, 7, 1), dt.date(2023, 7, 31)), (Section("Neglect", "theme-neglect", items),))


def test_forty_items_stay_under_the_clip(config):
    rendered = render_issue(_generated_issue(40), config)
    assert rendered.html_bytes < GMAIL_CLIP_BYTES
    assert not rendered.warnings


def test_a_clipped_issue_warns_with_its_size(config):
    rendered = render_issue(_generated_issue(200), config)
    assert rendered.html_bytes > GMAIL_CLIP_BYTES
    assert re.match(r"email.html is \d+ KB as sent: Gmail clips messages over 102 KB", rendered.warnings[0])


def test_own_template_folder_overrides_the_bundled_one(project):
    (project / "templates").mkdir()
    (project / "templates" / "email.txt").write_text("Custom {{ name }} {{ period }} {{ greeting }}\n")
    config = load_config(project / "newsletter.yaml")
    rendered = render_issue(prepare_issue(config, JULY), config)
    assert rendered.text.startswith("Custom Safeguarding digest July 2023")


def test_default_preheader_of_a_small_issue_names_the_newest_item(write_item, empty_project):
    write_item(item_yaml(title="A briefing on neglect in the early years"))
    config = load_config(empty_project / "newsletter.yaml")
    rendered = render_issue(prepare_issue(config, JULY), config)
    assert rendered.preheader == "1 new item in this issue: Neglect (1). A briefing on neglect in the early years"


def test_contents_links_land_on_name_targets_and_read_as_a_summary(config):
    """Gmail's web client and Outlook for Windows jump only to <a name>; ids alone do nothing there."""
    doc = lxml_html.fromstring(render_issue(prepare_issue(config, JULY), config).html)
    names = {a.get("name") for a in doc.iter("a") if a.get("name")}
    ids = {el.get("id") for el in doc.iter() if isinstance(el.tag, str) and el.get("id")}
    jumps = [a.get("href")[1:] for a in doc.iter("a") if (a.get("href") or "").startswith("#")]
    assert len(jumps) == 6 and set(jumps) <= names & ids
    toc = [" ".join(li.text_content().split()) for li in doc.find_class("toc")[0].iter("li")]
    assert toc[0] == "Domestic abuse: 2 items"  # read without following it: what the issue holds


def test_the_text_part_numbers_each_url_once(config):
    text = render_issue(prepare_issue(config, JULY), config).text
    urls = re.findall(r"^    (https://\S+)$", text, re.M)
    assert len(urls) == len(set(urls)) > 12
    numbers = [int(n) for n in re.findall(r"^\[(\d+)\] ", text, re.M)]
    assert numbers == list(range(1, len(urls) + 1))
    assert "Continue reading" not in text


def test_each_item_has_one_call_named_for_the_item(config):
    html = render_issue(prepare_issue(config, JULY), config).html
    doc = lxml_html.fromstring(re.sub(r"<!--\[if mso\]>.*?<!\[endif\]-->", "", html, flags=re.S))
    cells = doc.find_class("cell")
    assert len(cells) == 12
    for cell in cells:
        hrefs = [a.get("href") for a in cell.iter("a")]
        assert len(hrefs) == len(set(hrefs))  # no URL twice in an item ("Continue reading" + button)
        [button] = cell.find_class("btn")
        title = " ".join(cell.find("h3").text_content().split())
        assert button.get("aria-label") == f"{button.text_content()}: {title}"
