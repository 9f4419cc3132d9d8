"""`newsletter doctor`: every go-live check in order, as `Diagnosis` lines.

DNS first (SPF, DMARC, DKIM, alignment: what decides inbox or spam), then the relay
(one session, no message), then the subscriber-facing addresses. One check failing
never hides the others.
"""

from __future__ import annotations

import dns.resolver

from newsletter.config import Config
from newsletter.deliver import Transport
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
from newsletter.golive.web import check_addresses, probe_unsubscribe
from newsletter.net import make_resolver
from newsletter.send import load_private_key, public_key_record, record_name

__all__ = ["run_doctor"]


def run_doctor(config: Config, /, *, nameserver: str | None = None, online: bool = False,
               relay: bool = True) -> list[Diagnosis]:
    """All findings for `config`; `nameserver` is `HOST[:PORT]` or None for the system's DNS."""
    resolver = make_resolver(nameserver)
    transport, found = relay_transport(config)
    domain = config.sender_domain
    try:
        found += _dns_checks(config, resolver, domain, transport)
    except DnsUnanswered as exc:
        found.append(error("dns", str(exc), "check the network, or ask another server with --nameserver"))
    if transport is not None and relay:
        found += check_relay(transport)
    found += check_addresses(config)
    if online:
        found += probe_unsubscribe(config)
    return found


def _dns_checks(config: Config, resolver: dns.resolver.Resolver, domain: str,
                transport: Transport | None) -> list[Diagnosis]:
    relay_addresses: list[str] = []
    found: list[Diagnosis] = []
    if transport is not None and transport.loopback:
        found.append(ok("spf", f"the relay {transport.host} is on this machine; check that its outgoing "
                               "address is in SPF yourself"))
    elif transport is not None:
        relay_addresses = host_addresses(resolver, transport.host)
        if not relay_addresses:
            found.append(error("relay", f"smtp.host: {transport.host} does not resolve in DNS",
                               "check the relay's host name"))
    found += check_spf(resolver, domain, relay_addresses)
    dmarc, tags = check_dmarc(resolver, domain)
    found += dmarc
    found += _dkim_check(config, resolver)
    found += check_alignment(domain, dkim_domain=config.dkim.domain if config.dkim else None,
                             spf_domain=domain, tags=tags)
    return found


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
