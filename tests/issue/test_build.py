"""The built issue: files, golden copies, determinism, atomic writes, sample.eml."""

from __future__ import annotations

import email
import email.policy
import json
import os
from pathlib import Path

import pytest
from support.project import item_yaml

from newsletter.config import load_config
from newsletter.daterange import parse_range
from newsletter.errors import NewsletterError
from newsletter.issue.build import build_issue

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
JULY = parse_range("2023-07", None, None)


def test_outputs_are_written(config):
    result = build_issue(config, JULY)
    assert sorted(p.name for p in result.folder.iterdir()) == ["email.html", "email.txt", "manifest.json", "sample.eml"]
    assert result.folder == config.root / "issues" / "2023-07"


@pytest.mark.parametrize("name", ["email.html", "email.txt", "sample.eml", "manifest.json"])
def test_golden_files(config, name):
    """The sample issue, byte for byte. Regenerate with UPDATE_GOLDEN=1 after a deliberate change."""
    data = build_issue(config, JULY).files[name]
    golden = GOLDEN / f"2023-07.{name}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_bytes(data)
    assert data == golden.read_bytes(), f"{name} differs from {golden}; UPDATE_GOLDEN=1 if intended"


def test_rebuild_is_byte_identical(config):
    first = {p.name: p.read_bytes() for p in build_issue(config, JULY).folder.iterdir()}
    second = {p.name: p.read_bytes() for p in build_issue(config, JULY).folder.iterdir()}
    assert first == second


def test_manifest(config):
    manifest = build_issue(config, JULY).manifest
    assert manifest["range"] == {"start": "2023-07-01", "end": "2023-07-31"}
    assert manifest["item_count"] == 12
    assert [t["theme"] for t in manifest["themes"]][0] == "Domestic abuse"
    assert manifest["themes"][0]["items"][0]["file"].startswith("items/")
    assert manifest["sizes"]["email.html"] > 1000


def test_sample_eml_structure_and_headers(config):
    raw = build_issue(config, JULY).files["sample.eml"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in msg.iter_parts())
    assert msg["From"] == "Example Trust Learning <digest@example.org>"
    assert msg["To"] == "Sam Sample <sam.sample@example.org>"
    assert msg["Subject"] == "Safeguarding digest: what's new in July 2023"
    assert msg["Message-ID"] == "<2023-07.sample@example.org>"
    assert msg["Date"] == "Mon, 31 Jul 2023 08:00:00 +0000"
    assert msg["List-Id"] == "Safeguarding digest <safeguarding-digest.example.org>"
    unsub = msg["List-Unsubscribe"]
    assert unsub.startswith("<https://example.org/unsubscribe?t=") and "<mailto:unsubscribe@example.org" in unsub
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF line ends only


def test_sample_eml_parts_equal_the_built_files(config):
    result = build_issue(config, JULY)
    msg = email.message_from_bytes(result.files["sample.eml"], policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = msg.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert text == result.files["email.txt"].decode()
    assert html == result.files["email.html"].decode()
    unsub_url = msg["List-Unsubscribe"].split("<")[1].split(">")[0]
    assert unsub_url in text and unsub_url.replace("&", "&amp;") in html


def test_failed_build_leaves_previous_issue_intact(project):
    config = load_config(project / "newsletter.yaml")
    before = {p.name: p.read_bytes() for p in build_issue(config, JULY).folder.iterdir()}
    (project / "items" / "zz-broken.yaml").write_text(item_yaml(date="2023-07-40"))
    with pytest.raises(NewsletterError):
        build_issue(config, JULY)
    after = {p.name: p.read_bytes() for p in (project / "issues" / "2023-07").iterdir()}
    assert after == before
    assert [p.name for p in (project / "issues").iterdir()] == ["2023-07"]


def test_empty_range_writes_nothing(project):
    config = load_config(project / "newsletter.yaml")
    with pytest.raises(NewsletterError):
        build_issue(config, parse_range("2021-01", None, None))
    assert not (project / "issues").exists()


def test_manifest_is_valid_json_without_volatile_values(config):
    data = build_issue(config, JULY).files["manifest.json"]
    manifest = json.loads(data)
    assert "time" not in data.decode().lower()
    assert set(manifest) >= {"slug", "range", "subject", "preheader", "item_count", "themes", "sizes"}
