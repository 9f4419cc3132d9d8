"""Facts about the network that several stages need: is a host this machine, which DNS
server to ask (the system's, or one named by `--nameserver HOST[:PORT]`).

`doctor` reads SPF, DKIM and DMARC records through it, and a send checks that the
relay's host name resolves through it, so split DNS (and tests, with a DNS server on
127.0.0.1) see the same answers in both. `$NEWSLETTER_NAMESERVER` sets it for every
command. dnspython does the asking.
"""

from __future__ import annotations

import ipaddress
import os

import dns.exception
import dns.resolver

from newsletter.errors import ConfigError

__all__ = ["NAMESERVER_ENV", "host_resolves", "is_loopback", "make_resolver", "nameserver_from_env"]

NAMESERVER_ENV = "NEWSLETTER_NAMESERVER"


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: traffic that never leaves the machine."""
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def nameserver_from_env() -> str | None:
    """`$NEWSLETTER_NAMESERVER`, or None for the system's resolver."""
    return os.environ.get(NAMESERVER_ENV, "").strip() or None


def _split(nameserver: str) -> tuple[str, int]:
    """`HOST[:PORT]` (IPv6 as `[::1]:5353`) -> address and port; port 53 by default."""
    host, port = nameserver, "53"
    if nameserver.startswith("["):
        host, _, rest = nameserver[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif nameserver.count(":") == 1:
        host, port = nameserver.split(":")
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        number = 0
    if not 0 < number < 65536:
        raise ConfigError(f"not a nameserver address: {nameserver!r}", field="--nameserver",
                          hint="give an IP address with an optional port, e.g. 127.0.0.1:5353")
    return host, number


def make_resolver(nameserver: str | None = None, /, *, timeout: float = 5.0) -> dns.resolver.Resolver:
    """A resolver asking `nameserver` (or the system's servers), answering within `timeout` seconds."""
    if nameserver is None:
        resolver = dns.resolver.Resolver()
    else:
        host, port = _split(nameserver)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


def host_resolves(resolver: dns.resolver.Resolver, host: str) -> bool | None:
    """True if `host` has an A or AAAA record, False if it has none, None if DNS did not answer."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    for rdtype in ("A", "AAAA"):
        try:
            resolver.resolve(host, rdtype)
            return True
        except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
            continue
        except (dns.exception.Timeout, dns.resolver.NoNameservers):
            return None
    return False
