"""`newsletter doctor`: every go-live check in order, as `Diagnosis` lines.

DNS first (SPF, DMARC, DKIM, alignment: what decides inbox or spam), then the relay
(one session, no message), then the subscriber-facing addresses (online: the unsubscribe
page and, with `tracking.clicks`, the counted-link route) and the state (which, reachable
or not, its schema version). One check failing never hides the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import dns.resolver

from newsletter.config import Config
from newsletter.deliver import Transport, make_resolver
from newsletter.errors import NewsletterError
from newsletter.golive.dns import (
    DnsUnanswered,
    check_alignment,
    check_dkim,
    check_dmarc,
    check_spf,
    host_addresses,
)
from newsletter.golive.findings import Diagnosis, error, ok, warning
from newsletter.golive.relay import check_relay, relay_transport
from newsletter.golive.state import check_state
from newsletter.golive.web import check_addresses, check_placeholders, probe_counted_links, probe_unsubscribe
from newsletter.send import load_private_key, public_key_record, record_name

__all__ = ["run_doctor"]

_T = TypeVar("_T")


def run_doctor(config: Config, /, *, nameserver: str | None = None, online: bool = False,
               relay: bool = True) -> list[Diagnosis]:
    """All findings for `config`; `nameserver` is `HOST[:PORT]` or None for the system's DNS."""
    resolver = make_resolver(nameserver)
    transport, found = relay_transport(config, log_in=relay)
    found += _dns_checks(config, resolver, config.sender_domain, transport)
    if transport is not None and relay:
        found += check_relay(transport)
    found += check_placeholders(config)
    found += check_addresses(config)
    found += check_state(config)
    if online:
        found += probe_unsubscribe(config)
        if config.count_clicks:
            found += probe_counted_links(config)
    return found


def _dns_checks(config: Config, resolver: dns.resolver.Resolver, domain: str,
                transport: Transport | None) -> list[Diagnosis]:
    """SPF, DMARC, DKIM, alignment: a record DNS does not answer for is one error line of its
    own, and the other checks still run (alignment then reads no DMARC tags)."""
    found: list[Diagnosis] = []
    relay_addresses = _asked(found, lambda: _relay_addresses(resolver, transport, found)) or []
    found += _asked(found, lambda: check_spf(resolver, domain, relay_addresses)) or []
    dmarc = _asked(found, lambda: check_dmarc(resolver, domain))
    found += dmarc[0] if dmarc else []
    found += _asked(found, lambda: _dkim_check(config, resolver)) or []
    found += check_alignment(domain, dkim_domain=config.dkim.domain if config.dkim else None,
                             spf_domain=domain, tags=dmarc[1] if dmarc else None)
    return found


def _asked(found: list[Diagnosis], check: Callable[[], _T]) -> _T | None:
    """Run one DNS check; a server that does not answer becomes an error line in `found`."""
    try:
        return check()
    except DnsUnanswered as exc:
        found.append(error("dns", str(exc), "check the network, or ask another server with --nameserver"))
        return None


def _relay_addresses(resolver: dns.resolver.Resolver, transport: Transport | None,
                     found: list[Diagnosis]) -> list[str]:
    if transport is None:
        return []
    if transport.loopback:
        found.append(ok("spf", f"the relay {transport.host} is on this machine; check that its outgoing "
                               "address is in SPF yourself"))
        return []
    addresses = host_addresses(resolver, transport.host)
    if not addresses:
        found.append(error("relay", f"smtp.host: {transport.host} does not resolve in DNS",
                           "check the relay's host name"))
    return addresses


def _dkim_check(config: Config, resolver: dns.resolver.Resolver) -> list[Diagnosis]:
    if config.dkim is None:
        return [warning("dkim", "no dkim: block, so messages are not signed",
                        "`newsletter dkim keygen --selector S --domain D` makes a key and prints the record")]
    try:
        key = load_private_key(config.dkim, config_path=config.path)
    except NewsletterError as exc:
        return [error("dkim", str(exc))]
    name = record_name(config.dkim.selector, config.dkim.domain)
    return check_dkim(resolver, name, public_key_record(key))
