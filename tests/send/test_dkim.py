"""DKIM: signatures verify with dkimpy against the published key, and break on tampering."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import dkim
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from dkim.canonicalization import Relaxed

from newsletter.cli import main
from newsletter.config import Config, load_config
from newsletter.daterange import parse_range
from newsletter.errors import ConfigError
from newsletter.issue import build_issue
from newsletter.send.dkim import generate_key, load_signer, make_signer, public_key_record, write_private_key
from newsletter.send.dkimhash import canonical_body

SELECTOR, DOMAIN = "nl2023", "example.org"


@pytest.fixture(scope="module")
def key():
    return generate_key()


@pytest.fixture(scope="module")
def pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def dns_for(record: str, selector: str = SELECTOR, domain: str = DOMAIN):
    """A dnsfunc for dkimpy that knows one TXT record and nothing else (no real DNS)."""
    wanted = f"{selector}._domainkey.{domain}.".encode()

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return record.encode() if name == wanted else None

    return lookup


@pytest.fixture
def sample(config: Config) -> bytes:
    return build_issue(config, parse_range("2023-07", None, None), write=False).files["sample.eml"]


def with_dkim(project: Path, lines: str) -> Config:
    path = project / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "dkim:\n" + lines, encoding="utf-8")
    return load_config(path)


def test_signed_sample_verifies_against_the_published_key(key, sample: bytes) -> None:
    assert b"List-Unsubscribe: <https://" in sample and b">,\r\n <mailto:" in sample  # folded header
    signed = make_signer(key, domain=DOMAIN, selector=SELECTOR)(sample)
    assert signed.startswith(b"DKIM-Signature: ") and signed.endswith(sample)
    assert dkim.verify(signed, dnsfunc=dns_for(public_key_record(key)))
    head = signed.split(b"\r\n\r\n", 1)[0].decode()
    signature = re.search(r"DKIM-Signature: (.*?)\r\n(?=\S)", head, re.S).group(1)
    assert "c=relaxed/relaxed" in signature and "a=rsa-sha256" in signature
    signed_headers = {h.strip() for h in re.search(r"h=([^;]*);", signature).group(1).split(":")}
    assert {"from", "to", "subject", "date", "message-id", "list-id", "list-unsubscribe",
            "list-unsubscribe-post"} <= signed_headers
    assert max(len(line) for line in signature.split("\r\n")) <= 78


def test_signature_fails_with_another_key(key, sample: bytes) -> None:
    signed = make_signer(key, domain=DOMAIN, selector=SELECTOR)(sample)
    assert not dkim.verify(signed, dnsfunc=dns_for(public_key_record(generate_key(1024))))


@pytest.mark.parametrize("header", ["From", "To", "Subject", "Date", "Message-ID", "List-Id",
                                    "List-Unsubscribe", "List-Unsubscribe-Post"])
def test_altering_a_signed_header_breaks_the_signature(key, sample: bytes, header: str) -> None:
    signed = make_signer(key, domain=DOMAIN, selector=SELECTOR)(sample)
    pattern = re.compile(rb"^(" + header.encode() + rb": )(.)", re.M)
    assert pattern.search(signed), header
    altered = pattern.sub(lambda m: m.group(1) + (b"X" if m.group(2) != b"X" else b"Y"), signed, count=1)
    assert not dkim.verify(altered, dnsfunc=dns_for(public_key_record(key)))


def test_adding_an_unsubscribe_post_header_breaks_the_signature(key) -> None:
    message = (b"From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\n"
               b"Date: Mon, 31 Jul 2023 08:00:00 GMT\r\nMessage-ID: <1@example.org>\r\n\r\nHello\r\n")
    signed = make_signer(key, domain=DOMAIN, selector=SELECTOR)(message)
    record = public_key_record(key)
    assert dkim.verify(signed, dnsfunc=dns_for(record))
    forged = signed.replace(b"Subject: hi\r\n", b"Subject: hi\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
    assert not dkim.verify(forged, dnsfunc=dns_for(record))


def test_altering_the_body_breaks_the_signature(key, sample: bytes) -> None:
    signed = make_signer(key, domain=DOMAIN, selector=SELECTOR)(sample)
    record = public_key_record(key)
    assert not dkim.verify(signed.replace(b"Unsubscribe", b"Unsubscrib3", 1), dnsfunc=dns_for(record))
    assert not dkim.verify(signed + b"extra line\r\n", dnsfunc=dns_for(record))


def test_relaxed_canonicalization_tolerates_whitespace_changes(key, sample: bytes) -> None:
    """What relaxed/relaxed is for: relays that re-fold headers or pad lines."""
    signed = make_signer(key, domain=DOMAIN, selector=SELECTOR)(sample)
    refolded = signed.replace(b">,\r\n <mailto:", b">, <mailto:", 1).replace(b"Subject: ", b"Subject:   ", 1)
    assert refolded != signed
    assert dkim.verify(refolded, dnsfunc=dns_for(public_key_record(key)))


@pytest.mark.parametrize("body", [
    b"", b"\r\n", b"\r\n\r\n", b"a\r\n", b"a", b"a  b\t\tc \r\n\r\n\r\n", b"trailing \t\r\nx\r\n",
    b"bare\nline feeds\n\n", b"  lead\r\n", b"a" * 80 + b"    \r\n" + b"b   c\r\n", b"tab\tonly\r\n",
    b"x        y\r\n\r\nz\r\n \r\n",
])
def test_canonical_body_matches_dkimpy(body: bytes) -> None:
    expected = Relaxed.canonicalize_body(re.sub(rb"\r?\n", b"\r\n", body))
    assert canonical_body(body) == expected


def test_load_signer_is_none_without_dkim(config: Config) -> None:
    assert config.dkim is None and load_signer(config) is None


def test_load_signer_from_key_file(project: Path, key, pem: bytes, sample: bytes) -> None:
    (project / "dkim.key").write_bytes(pem)
    config = with_dkim(project, f"  domain: {DOMAIN}\n  selector: {SELECTOR}\n  key_file: dkim.key\n")
    sign = load_signer(config)
    assert sign is not None
    assert dkim.verify(sign(sample), dnsfunc=dns_for(public_key_record(key)))


@pytest.mark.parametrize("one_line", [False, True])
def test_load_signer_from_env(project: Path, key, pem: bytes, sample: bytes, monkeypatch,
                              one_line: bool) -> None:
    value = pem.decode().replace("\n", "\\n") if one_line else pem.decode()
    monkeypatch.setenv("TEST_DKIM_KEY", value)
    config = with_dkim(project, f"  domain: {DOMAIN}\n  selector: {SELECTOR}\n  key_env: TEST_DKIM_KEY\n")
    sign = load_signer(config)
    assert sign is not None
    assert dkim.verify(sign(sample), dnsfunc=dns_for(public_key_record(key)))


def test_missing_key_file_is_a_config_error_with_a_hint(project: Path) -> None:
    config = with_dkim(project, f"  domain: {DOMAIN}\n  selector: {SELECTOR}\n  key_file: nowhere.key\n")
    with pytest.raises(ConfigError) as err:
        load_signer(config)
    assert "nowhere.key" in str(err.value) and "dkim keygen" in str(err.value)


@pytest.mark.parametrize(("line", "field"), [("  selector: my key\n  domain: example.org\n", "dkim.selector"),
                                           ("  selector: nl\n  domain: bad..domain\n", "dkim.domain")])
def test_bad_selector_or_domain_is_a_config_error(project: Path, pem: bytes, line: str, field: str) -> None:
    (project / "dkim.key").write_bytes(pem)
    config = with_dkim(project, line + "  key_file: dkim.key\n")
    with pytest.raises(ConfigError) as err:
        load_signer(config)
    assert err.value.field == field


def test_unset_key_env_is_a_config_error(project: Path, monkeypatch) -> None:
    monkeypatch.delenv("TEST_DKIM_KEY", raising=False)
    config = with_dkim(project, f"  domain: {DOMAIN}\n  selector: {SELECTOR}\n  key_env: TEST_DKIM_KEY\n")
    with pytest.raises(ConfigError, match="TEST_DKIM_KEY is not set"):
        load_signer(config)


def test_garbage_key_is_a_config_error_that_does_not_echo_the_key(project: Path, monkeypatch) -> None:
    secret = "-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LXNlY3JldC1zZWNyZXQ=\n-----END RSA PRIVATE KEY-----\n"
    monkeypatch.setenv("TEST_DKIM_KEY", secret)
    config = with_dkim(project, f"  domain: {DOMAIN}\n  selector: {SELECTOR}\n  key_env: TEST_DKIM_KEY\n")
    with pytest.raises(ConfigError) as err:
        load_signer(config)
    assert "not an unencrypted PEM private key" in str(err.value)
    assert "c2VjcmV0" not in str(err.value)


def test_keygen_writes_a_private_key_and_prints_the_record(tmp_path: Path, sample: bytes) -> None:
    out = tmp_path / "keys" / "nl.key"
    out.parent.mkdir()
    result = CliRunner().invoke(main, ["dkim", "keygen", "--selector", SELECTOR, "--domain", DOMAIN,
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert f"name:  {SELECTOR}._domainkey.{DOMAIN}" in result.output
    record = re.search(r"value: (v=DKIM1; k=rsa; p=\S+)", result.output).group(1)
    key = serialization.load_pem_private_key(out.read_bytes(), password=None)
    assert key.key_size == 2048
    signed = make_signer(key, domain=DOMAIN, selector=SELECTOR)(sample)
    assert dkim.verify(signed, dnsfunc=dns_for(record))
    zone = re.search(r"IN TXT \( (.*) \)", result.output).group(1)
    strings = re.findall(r'"([^"]*)"', zone)
    assert "".join(strings) == record and all(len(s) <= 255 for s in strings)


def test_keygen_never_overwrites_a_key(tmp_path: Path, key) -> None:
    out = tmp_path / "nl.key"
    write_private_key(key, out)
    before = out.read_bytes()
    result = CliRunner().invoke(main, ["dkim", "keygen", "--selector", SELECTOR, "--domain", DOMAIN,
                                       "--out", str(out)])
    assert result.exit_code == 1
    assert "already there" in result.output
    assert out.read_bytes() == before


def test_keygen_rejects_a_bad_selector(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["dkim", "keygen", "--selector", "a b", "--domain", DOMAIN,
                                       "--out", str(tmp_path / "k")])
    assert result.exit_code == 2 and not (tmp_path / "k").exists()


def test_sent_messages_are_signed_and_verify(project: Path, key, pem: bytes) -> None:
    """End to end: `send` with a dkim block, through the embedded outbox, verified by dkimpy."""
    (project / "dkim.key").write_bytes(pem)
    with_dkim(project, f"  domain: {DOMAIN}\n  selector: {SELECTOR}\n  key_file: dkim.key\n")
    result = CliRunner().invoke(main, ["send", "2023-07", "--yes", "--config", str(project / "newsletter.yaml")])
    assert result.exit_code == 0, result.output
    delivered = sorted((project / "outbox" / "new").iterdir())
    assert len(delivered) >= 2
    record = public_key_record(key)
    for path in delivered:
        message = path.read_bytes()
        assert b"DKIM-Signature:" in message
        assert dkim.verify(message, dnsfunc=dns_for(record)), path.name


def test_send_stops_before_the_first_message_without_the_key(project: Path) -> None:
    with_dkim(project, f"  domain: {DOMAIN}\n  selector: {SELECTOR}\n  key_file: missing.key\n")
    result = CliRunner().invoke(main, ["send", "2023-07", "--yes", "--config", str(project / "newsletter.yaml")])
    assert result.exit_code == 1
    assert "cannot read the DKIM key file" in result.output and "Traceback" not in result.output
    assert not list((project / "outbox").glob("*/*"))


def test_signed_headers_are_oversigned_so_a_header_added_in_transit_breaks_the_signature(key, sample: bytes) -> None:
    signed = make_signer(key, domain=DOMAIN, selector=SELECTOR)(sample)
    dns = dns_for(public_key_record(key))
    assert dkim.verify(signed, dnsfunc=dns)
    signature = re.search(rb"DKIM-Signature: (.*?)\r\n(?=\S)", signed, re.S).group(1)
    listed = [h.strip().decode() for h in re.search(rb"h=([^;]*);", signature).group(1).split(b":")]
    head = sample.split(b"\r\n\r\n", 1)[0].decode().lower()
    for name in ("from", "to", "subject", "date", "message-id", "list-id", "list-unsubscribe",
                 "list-unsubscribe-post", "mime-version", "content-type"):
        present = len(re.findall(rf"^{name}:", head, re.M))
        assert present == 1 and listed.count(name) == 2, name  # once more than the message has it
    for absent in ("sender", "cc"):
        assert f"\n{absent}:" not in head and listed.count(absent) == 1  # signed as absent
    assert listed.count("reply-to") == len(re.findall(r"^reply-to:", head, re.M)) + 1
    for added in (b"Subject: Your account is locked\r\n", b"List-Unsubscribe: <https://evil.example/u>\r\n",
                  b"Cc: someone@example.net\r\n", b"Reply-To: phish@evil.example\r\n",
                  b"Sender: someone@evil.example\r\n"):
        at = signed.index(b"\r\n\r\n") + 2  # at the end of the header block: after the signed copy
        assert not dkim.verify(signed[:at] + added + signed[at:], dnsfunc=dns), added
        top = signed.index(b"\r\n", signed.index(b"DKIM-Signature")) + 2
        while signed[top:top + 1] in (b" ", b"\t"):
            top = signed.index(b"\r\n", top) + 2
        assert not dkim.verify(signed[:top] + added + signed[top:], dnsfunc=dns), added  # prepended
