"""A DNS server on 127.0.0.1 (dnslib) answering from a zone text, for `doctor` and relay-name tests."""

from __future__ import annotations

from typing import Self

from dnslib import QTYPE, RCODE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer
from dnslib.zoneresolver import ZoneResolver

__all__ = ["ZoneServer"]


class ZoneServer:
    """Answers from `zone` (master-file lines); NXDOMAIN for any other name. Use as a context."""

    def __init__(self, zone: str, *, failing: tuple[str, ...] = ()) -> None:
        self.resolver = ZoneResolver(zone, glob=False)
        quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
        self.server = DNSServer(_Failing(self.resolver, failing), address="127.0.0.1", port=0, logger=quiet)

    @property
    def address(self) -> str:
        """`127.0.0.1:PORT`, as `--nameserver` takes it."""
        return f"127.0.0.1:{self.server.server.server_address[1]}"

    def set_zone(self, zone: str) -> None:
        """Serve another zone from now on (as ZoneResolver stores it: name, type name, record)."""
        self.resolver.zone = [(rr.rname, QTYPE[rr.rtype], rr) for rr in RR.fromZone(zone)]

    def __enter__(self) -> Self:
        self.server.start_thread()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        self.server.server.server_close()


class _Failing(BaseResolver):
    """SERVFAIL for the names in `failing` (a broken or unreachable authoritative server), the zone for the rest."""

    def __init__(self, zone: ZoneResolver, failing: tuple[str, ...]) -> None:
        self.zone = zone
        self.failing = {name.rstrip(".").lower() for name in failing}

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        if str(request.q.qname).rstrip(".").lower() in self.failing:
            reply = request.reply()
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        return self.zone.resolve(request, handler)
