"""DKIM benchmark: signing cost per message for a ~60 KB issue, 2048-bit RSA key.

Composes distinct per-recipient messages (compose.fill) for a generated issue sized to
about 60 KB on the wire, then measures signing per message, single-threaded: our signer
(newsletter.dkim: key parsed once, OpenSSL RSA) against dkimpy's `dkim.sign` (key
re-parsed and RSA in pure Python on every call).
Every signature from our signer is verified once with dkimpy.

Then the split a run uses: the event loop's share per message (`Composer.prepare`: fill,
dot-stuff, the prepared body hash and the header hash, no RSA) against the same without
DKIM, and the RSA step alone in the worker pool (send/signpool.py), all cores. Run:
`python bench/bench_dkim.py` (`--messages N`, `--target-kb K`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dkim
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_build import make_project  # noqa: E402

from newsletter.audience import Subscriber  # noqa: E402
from newsletter.config import load_config  # noqa: E402
from newsletter.daterange import parse_range  # noqa: E402
from newsletter.issue import Recipient, build_issue, compile_message, fill
from newsletter.send import Composer, SigningPool, TemplateCache, generate_key, make_signer, public_key_record


def messages(target_kb: int, count: int) -> tuple[list[bytes], float, Any, Any]:
    """`count` distinct messages of about `target_kb` KB from one issue, and seconds per fill."""
    tmp = Path(tempfile.mkdtemp())
    items = 8
    while True:
        config = load_config(make_project(tmp / f"p{items}", items))
        result = build_issue(config, parse_range("2023-07", None, None), write=False)
        if len(result.files["sample.eml"]) >= target_kb * 1024 or items > 400:
            break
        items = int(items * target_kb * 1024 / len(result.files["sample.eml"])) + 1
    template = compile_message(result.rendered, config)
    started = time.perf_counter()
    batch = [fill(template, config, Recipient(f"reader{n}@example.net", f"Reader {n}"), token=f"tok{n:08d}",
                  message_id=f"<{n}.bench@example.org>") for n in range(count)]
    return batch, (time.perf_counter() - started) / count, config, result


def per_message(func, inputs: list[bytes], rounds: int = 3) -> float:
    """Median over `rounds` of the mean seconds per message."""
    means = []
    for _ in range(rounds):
        started = time.perf_counter()
        for message in inputs:
            func(message)
        means.append((time.perf_counter() - started) / len(inputs))
    return statistics.median(means)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--target-kb", type=int, default=60)
    args = parser.parse_args()
    batch, compose, config, result = messages(args.target_kb, args.messages)
    key = generate_key()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    sign = make_signer(key, domain="example.org", selector="bench")
    record = public_key_record(key).encode()
    assert dkim.verify(sign(batch[0]), dnsfunc=lambda name, timeout=5: record)

    size = statistics.mean(len(m) for m in batch) / 1024
    ours = per_message(sign, batch)
    few = batch[: max(20, len(batch) // 10)]
    theirs = per_message(lambda m: dkim.sign(m, b"bench", b"example.org", pem,
                                             canonicalize=(b"relaxed", b"relaxed")) + m, few, rounds=1)
    print(f"{len(batch)} messages of {size:.1f} KB, 2048-bit RSA, one core")
    print(f"{'signer':<28} {'ms/message':>10} {'messages/s':>11}")
    for name, seconds in (("compose.fill (for scale)", compose), ("newsletter.dkim (OpenSSL)", ours),
                          ("dkimpy dkim.sign", theirs)):
        print(f"{name:<28} {seconds * 1000:>10.2f} {1 / seconds:>11.0f}")
    split(config, result, sign, args.messages)


def split(config: Any, result: Any, sign: Any, count: int) -> None:
    """The loop's share of a signed message, and the RSA step in the worker pool."""
    people = [Subscriber(f"reader{n}@example.net", f"Reader {n}") for n in range(count)]
    plain = Composer(config, TemplateCache(result.rendered, config), [b"k"], None)
    signed = Composer(config, TemplateCache(result.rendered, config), [b"k"], sign)
    loop_share = {}
    for name, composer in (("unsigned", plain), ("signed", signed)):
        composer.prepare(people[0], "<0@example.org>", "Mon, 31 Jul 2023 08:00:00 +0000")
        started = time.perf_counter()
        for n, person in enumerate(people):
            composer.prepare(person, f"<{n}@example.org>", "Mon, 31 Jul 2023 08:00:00 +0000")
        loop_share[name] = (time.perf_counter() - started) / count
    digests = [os.urandom(32) for _ in range(count)]
    pool = SigningPool(sign.pem)

    async def run() -> float:
        await pool.sign(digests[:pool.workers])  # the workers are up
        started = time.perf_counter()
        for i in range(0, count, 32):
            await pool.sign(digests[i:i + 32])
        return (time.perf_counter() - started) / count

    try:
        rsa = asyncio.run(run())
    finally:
        pool.close()
    print(f"\nthe split a run uses ({count} messages)")
    print(f"{'loop: prepare, no DKIM':<28} {loop_share['unsigned'] * 1000:>10.3f} {1 / loop_share['unsigned']:>11.0f}")
    print(f"{'loop: prepare, DKIM (no RSA)':<28} {loop_share['signed'] * 1000:>10.3f} {1 / loop_share['signed']:>11.0f}")
    print(f"{f'RSA in {pool.workers} worker processes':<28} {rsa * 1000:>10.3f} {1 / rsa:>11.0f}")


if __name__ == "__main__":
    main()
