"""The per-template shortcuts of DKIM hashing give exactly the bytes hashing the whole message gives.

A run hashes each message from a template prepared once (send/dkimhash.py): static lines
canonicalised once, slot lines per message, the DKIM-Signature folded once with
placeholders. Any difference from the whole-message way is a signature that fails at the
receiver, so these compare the two over generated templates, not just the sample.
"""

from __future__ import annotations

from collections import Counter

import dkim
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.send.dkim import DkimSigner, generate_key, public_key_record
from newsletter.send.dkimhash import BodyHash, HeaderHash, Joiner, body_hash, signed_names
from newsletter.send.signworker import sign_digest

# the characters relaxed canonicalization cares about: line ends (bare too), spaces, tabs
CHUNK = st.text(alphabet="ab .\t\r\n", max_size=12).map(lambda s: s.encode())
KEY = generate_key(1024)  # fast to make; the folding is what matters here, not the key size


def joined(parts: list[bytes | int], values: list[bytes]) -> bytes:
    return b"".join(values[p] if isinstance(p, int) else p for p in parts)


@st.composite
def templates(draw: st.DrawFn) -> tuple[list[bytes | int], list[bytes]]:
    values = draw(st.lists(CHUNK, min_size=1, max_size=4))
    parts: list[bytes | int] = draw(st.lists(st.one_of(CHUNK, st.integers(0, len(values) - 1)), max_size=12))
    return parts, values


@settings(max_examples=400, deadline=None)
@given(templates())
def test_the_prepared_body_hash_is_the_whole_bodys(template: tuple[list[bytes | int], list[bytes]]) -> None:
    parts, values = template
    assert BodyHash(parts).digest(values) == body_hash(joined(parts, values))


@given(templates())
def test_a_joiner_joins_as_the_parts_say(template: tuple[list[bytes | int], list[bytes]]) -> None:
    parts, values = template
    assert Joiner(parts).join(values) == joined(parts, values)


HEAD = [b"From: Digest <digest@example.org>\r\nTo: ", 0, b"\r\nSubject: What's new\r\nDate: ", 1,
        b"\r\nMessage-ID: ", 2, b"\r\nList-Unsubscribe: ", 3, b"\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain;\r\n  charset=utf-8"]
NAMES = st.sampled_from([b"Jo Bloggs <jo@example.org>", b"=?utf-8?q?Zo=C3=AB?=\r\n <zoe@example.org>",
                         b"A  Very\t Long\r\n\tName <long@example.org>", b"plain@example.org"])


@settings(max_examples=60, deadline=None)
@given(NAMES, st.integers(0, 10**9), st.sampled_from([b"<1@example.org>", b"<x.y@example.org> "]))
def test_the_prepared_header_hash_signs_as_the_whole_message_does(to: bytes, when: int, message_id: bytes) -> None:
    signer = DkimSigner(KEY, domain="example.org", selector="s", clock=lambda: when)
    values = [to, b"Mon, 31 Jul 2023 08:00:00 +0000", message_id, b"<https://example.org/u/t>,\r\n <mailto:u@example.org>"]
    head = joined(HEAD, values)
    bh = body_hash(b"Hello\r\n")
    prepared = signer.unsigned_from(HeaderHash(HEAD), values, bh)
    whole = signer.unsigned(head, bh)
    assert prepared is not None and prepared.digest == whole.digest
    signature = b"\x07" * 128
    assert signer.header(prepared, signature) == signer.header(whole, signature)


def test_a_value_that_would_start_a_header_of_its_own_takes_the_whole_way() -> None:
    signer = DkimSigner(KEY, domain="example.org", selector="s")
    values = [b"jo@example.org\r\nBcc: eve@example.org", b"date", b"<1@example.org>", b"<https://example.org/u>"]
    assert signer.unsigned_from(HeaderHash(HEAD), values, body_hash(b"")) is None


def test_the_h_list_oversigns_every_header_the_template_has() -> None:
    names = [b"from", b"to", b"subject", b"date", b"message-id", b"list-unsubscribe", b"mime-version",
             b"content-type"]
    assert HeaderHash(HEAD).signed == signed_names(Counter(names))
    assert HeaderHash(HEAD).signed.count(b"subject") == 2 and HeaderHash(HEAD).signed.count(b"cc") == 1


def test_signatures_made_the_prepared_way_verify_for_every_key_size() -> None:
    for bits in (1024, 2048, 3072):
        key = KEY if bits == 1024 else generate_key(bits)
        signer = DkimSigner(key, domain="example.org", selector="s")
        values = [b"Jo <jo@example.org>", b"Mon, 31 Jul 2023 08:00:00 +0000", b"<1@example.org>", b"<https://e.org/u>"]
        body = b"Hello Jo,\r\n\r\nNews.\r\n"
        unsigned = signer.unsigned_from(HeaderHash(HEAD), values, body_hash(body))
        assert unsigned is not None
        message = signer.header(unsigned, sign_digest(key, unsigned.digest)) + joined(HEAD, values) + b"\r\n\r\n" + body
        record = public_key_record(key).encode()
        assert dkim.verify(message, dnsfunc=lambda name, timeout=5, record=record: record), bits

