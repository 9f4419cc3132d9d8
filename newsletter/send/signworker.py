"""One DKIM signing worker process: the RSA step, and nothing else loaded.

A worker is a fresh interpreter running `python -m newsletter.send.signworker FD`, FD
being its end of a socket pair with the run, so what this module imports is what each
worker pays before its first signature: cryptography and a pipe, a fifth of what
importing the signing code whole cost (its config, dkimpy and DNS modules) through
multiprocessing (which also ran the parent's main script again in every worker). The
key comes down the socket, never on a command line or in the environment. The parent
side is send/signpool.py.
"""

from __future__ import annotations

import os
import signal
import sys
from multiprocessing.connection import Connection

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

__all__ = ["DIGEST_SIZE", "main", "serve", "sign_digest"]

DIGEST_SIZE = 32  # SHA-256
# Below the run's own priority: the run's event loop is the one thread every message goes
# through, so it gets a core first; the workers, kept batches ahead, sign on what is left.
# Equal shares made the loop wait for the CPU while workers signed (0.79x of what two
# cores allow against 0.90x: docs/explanation/signing-and-pipelining.md).
NICENESS = 10
_PADDING = padding.PKCS1v15()
_PREHASHED = utils.Prehashed(hashes.SHA256())


def sign_digest(key: rsa.RSAPrivateKey, digest: bytes) -> bytes:
    """RSASSA-PKCS1-v1_5 over a SHA-256 digest: the one step that needs the key."""
    return key.sign(digest, _PADDING, _PREHASHED)


def main() -> None:
    """The worker's entry point: `python -m newsletter.send.signworker FD`."""
    conn = Connection(int(sys.argv[1]))
    os.nice(NICENESS)
    try:
        pem = conn.recv_bytes()
    except EOFError:
        return
    serve(conn, pem)


def serve(conn: Connection, pem: bytes) -> None:
    """Parse the key once, then sign each batch of digests until told to stop.

    The key's consistency checks (30 ms of a worker's start) are skipped: the run loaded
    and checked this same key before it started any worker. Ctrl-C and SIGTERM are
    ignored: the run decides when to stop, not the terminal or the service manager, and
    closes the workers when it does.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    key = serialization.load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)
    assert isinstance(key, rsa.RSAPrivateKey)  # checked whole by the parent when the run loaded it
    conn.send_bytes(b"")  # ready: from now on a batch takes milliseconds
    while True:
        try:
            batch = conn.recv_bytes()
        except EOFError:
            return
        if not batch:
            return
        conn.send_bytes(b"".join(sign_digest(key, batch[i:i + DIGEST_SIZE])
                                 for i in range(0, len(batch), DIGEST_SIZE)))


if __name__ == "__main__":
    main()
