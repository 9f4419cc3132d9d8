"""One DKIM signing worker process: the RSA step, and nothing else loaded.

A worker is a fresh interpreter running this file as a script (`python -P signworker.py
FD`, FD being its end of a socket pair with the run), so what it imports is what each
worker pays before its first signature: cryptography and a socket, not the newsletter
package, not multiprocessing (a worker used to import the signing code whole, its
config, dkimpy and DNS modules, and run the parent's main script again). The framing is
multiprocessing.connection's, which the run's side (send/signpool.py) uses. The key
comes down the socket, never on a command line or in the environment.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

__all__ = ["DIGEST_SIZE", "Frames", "main", "serve", "sign_digest"]

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


class Frames:
    """multiprocessing.connection's framing over a socket: a 4-byte big-endian length, then
    the bytes (the run reads and writes with `Connection`)."""

    def __init__(self, fd: int) -> None:
        self.sock = socket.socket(fileno=fd)

    def recv(self) -> bytes | None:
        """The next message; None when the run closed its end (or died)."""
        head = self._exactly(4)
        if head is None:
            return None
        (size,) = struct.unpack("!i", head)
        if size == -1:  # Connection's header for 2 GB and more: never sent here, understood anyway
            head = self._exactly(8)
            if head is None:
                return None
            (size,) = struct.unpack("!Q", head)
        return self._exactly(size)

    def send(self, data: bytes) -> None:
        self.sock.sendall(struct.pack("!i", len(data)) + data)

    def _exactly(self, size: int) -> bytes | None:
        data = bytearray()
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                return None
            data += chunk
        return bytes(data)


def main() -> None:
    """The worker's entry point: `python -P signworker.py FD`."""
    frames = Frames(int(sys.argv[1]))
    os.nice(NICENESS)
    pem = frames.recv()
    if pem:
        serve(frames, pem)


def serve(frames: Frames, pem: bytes) -> None:
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
    frames.send(b"")  # ready: from now on a batch takes milliseconds
    while batch := frames.recv():  # EOF or an empty batch: stop
        frames.send(b"".join(sign_digest(key, batch[i:i + DIGEST_SIZE]) for i in range(0, len(batch), DIGEST_SIZE)))


if __name__ == "__main__":
    main()
