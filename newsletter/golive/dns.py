"""The From domain's DNS as Gmail and Yahoo read it: SPF, DMARC, DKIM and their alignment.

Records are fetched with dnspython (through `--nameserver` when given); SPF is evaluated
by pyspf, which also enforces the 10-lookup limit; DMARC and DKIM records are tag lists
(`v=DMARC1; p=none`), split by dkimpy's tag-value parser. Each check returns
`Diagnosis` lines and never raises for what it finds in DNS.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import dkim.util
import dns.exception
import dns.resolver
import spf
from publicsuffixlist import PublicSuffixList

from newsletter.golive.findings import Diagnosis, error, ok, warning

__all__ = [
    "DnsUnanswered",
    "check_alignment",
    "check_dkim",
    "check_dmarc",
    "check_spf",
    "host_addresses",
    "org_domain",
    "txt_records",
]

_TEST_ADDRESS = "192.0.2.1"  # TEST-NET-1: matches nothing, so pyspf walks (and counts) every lookup
# Documentation addresses no real sender uses: a record that lets one of them send lets anyone
# (`+all` reached through include: or redirect=, `ip4:0.0.0.0/0`, `ip6:::/0`).
_STRANGERS = ("203.0.113.254", "2001:db8::dead")
_PSL: PublicSuffixList | None = None


class DnsUnanswered(Exception):
    """The DNS server did not answer (timeout, refused): nothing can be said about the record."""


def txt_records(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    """Every TXT record at `name`, each one's strings joined; [] when there is none."""
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise DnsUnanswered(f"no answer from DNS for {name}: {exc}") from exc
    return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]


def host_addresses(resolver: dns.resolver.Resolver, host: str) -> list[str]:
    """The A and AAAA addresses of `host` (the relay), for the SPF check."""
    found = []
    for rdtype in ("A", "AAAA"):
        try:
            found += [r.address for r in resolver.resolve(host, rdtype)]
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            continue
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise DnsUnanswered(f"no answer from DNS for {host}: {exc}") from exc
    return found


def org_domain(domain: str) -> str:
    """The organisational domain for relaxed alignment (RFC 7489 3.2): `news.example.org` ->
    `example.org`, `a.b.police.uk` -> `b.police.uk`, from the Public Suffix List that
    receivers use (publicsuffixlist ships a copy). A public suffix itself stays as it is."""
    global _PSL
    if _PSL is None:
        _PSL = PublicSuffixList()  # parses the bundled list once (about 50 ms)
    name = domain.lower().rstrip(".")
    return _PSL.privatesuffix(name) or name


# --- SPF ---------------------------------------------------------------------------------

@contextlib.contextmanager
def _pyspf_asks(resolver: dns.resolver.Resolver) -> Iterator[None]:
    """pyspf looks records up through its module-level `DNSLookup` hook: point it at `resolver`."""

    def lookup(name: str, qtype: str, tcpfallback: bool = True, timeout: int = 30) -> list[Any]:
        try:
            answers = resolver.resolve(name, qtype)
        except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise spf.TempError(f"DNS {exc}") from exc
        out: list[Any] = []
        for rdata in answers:
            if qtype in ("A", "AAAA"):
                out.append(((name, qtype), rdata.address))
            elif qtype == "MX":
                out.append(((name, qtype), (rdata.preference, rdata.exchange)))
            elif qtype == "PTR":
                out.append(((name, qtype), rdata.target.to_text(True)))
            elif qtype in ("TXT", "SPF"):
                out.append(((name, qtype), rdata.strings))
        return out

    saved = spf.DNSLookup
    spf.DNSLookup = lookup
    try:
        yield
    finally:
        spf.DNSLookup = saved


def _spf_result(resolver: dns.resolver.Resolver, address: str, domain: str) -> tuple[str, str]:
    """pyspf's verdict for mail from `postmaster@domain` sent by `address`: (result, explanation)."""
    with _pyspf_asks(resolver):
        result, _code, explanation = spf.query(i=address, s=f"postmaster@{domain}", h=domain).check()
    return result, explanation


def check_spf(resolver: dns.resolver.Resolver, domain: str, relay_addresses: list[str]) -> list[Diagnosis]:
    """One SPF record, not `+all`, within 10 lookups, and (when known) authorising the relay."""
    records = [r for r in txt_records(resolver, domain) if r.lower().startswith("v=spf1")]
    if not records:
        return [error("spf", f"no SPF record for {domain}",
                      f'publish a TXT record at {domain}: "v=spf1 include:<your provider\'s SPF domain> -all"')]
    if len(records) > 1:
        return [error("spf", f"{len(records)} SPF records for {domain}; receivers treat that as no SPF",
                      "merge them into one TXT record starting v=spf1")]
    record = records[0]
    terms = record.lower().split()
    if "+all" in terms or "all" in terms:
        return [error("spf", f"the SPF record for {domain} ends in +all: anyone may send as {domain}",
                      "end it with -all (or ~all) after the senders you use")]
    result, explanation = _spf_result(resolver, _TEST_ADDRESS, domain)
    if result in ("permerror", "temperror"):
        return [error("spf", f"the SPF record for {domain} cannot be evaluated: {explanation}",
                      "SPF allows at most 10 DNS lookups (include, a, mx, ptr, exists, redirect); "
                      "remove includes you no longer use" if "lookup" in explanation.lower() else None)]
    open_to = [address for address in (_TEST_ADDRESS, *_STRANGERS)
               if _spf_result(resolver, address, domain)[0] == "pass"]
    if open_to:
        return [error("spf", f"the SPF record for {domain} lets any address send as {domain} "
                             f"(it passes {open_to[0]}, an address nobody sends from)",
                      "look for +all, ip4:0.0.0.0/0 or ip6:::/0, also in the records it includes or redirects "
                      "to; list only the senders you use and end with -all or ~all")]
    found = [ok("spf", f"{domain} has one SPF record: {record}")]
    for address in relay_addresses:
        result, _ = _spf_result(resolver, address, domain)
        if result == "pass":
            found.append(ok("spf", f"it authorises the relay's address {address}"))
        else:
            found.append(error("spf", f"it does not authorise the relay's address {address} (SPF {result}): "
                                      "receivers will see mail from the relay fail SPF",
                               "add the relay (e.g. include: your provider's SPF domain or ip4:ADDRESS); "
                               "a provider may send from other addresses than it receives on, check its docs"))
    return found


# --- DMARC -------------------------------------------------------------------------------

def _tags(record: str) -> dict[str, str] | None:
    try:
        parsed = dkim.util.parse_tag_value(record.encode("utf-8"))
    except dkim.util.InvalidTagValueList:
        return None
    return {k.decode().lower(): v.decode().strip() for k, v in parsed.items()}


def check_dmarc(resolver: dns.resolver.Resolver, domain: str) -> tuple[list[Diagnosis], dict[str, str] | None]:
    """The `_dmarc.` record of the From domain (or its organisational domain) and its policy."""
    names = [f"_dmarc.{domain}"]
    if org_domain(domain) != domain:
        names.append(f"_dmarc.{org_domain(domain)}")
    for name in names:
        records = [r for r in txt_records(resolver, name) if r.strip().lower().startswith("v=dmarc1")]
        if records:
            break
    else:
        return [error("dmarc", f"no DMARC record at _dmarc.{domain}",
                      f'publish a TXT record at _dmarc.{domain}: "v=DMARC1; p=none; rua=mailto:dmarc@{domain}"; '
                      "Gmail and Yahoo require one from bulk senders")], None
    if len(records) > 1:
        return [error("dmarc", f"{len(records)} DMARC records at {name}; receivers ignore them all",
                      "keep exactly one")], None
    tags = _tags(records[0])
    if tags is None or tags.get("v") != "DMARC1" or tags.get("p", "").lower() not in ("none", "quarantine", "reject"):
        return [error("dmarc", f"the DMARC record at {name} is not valid: {records[0]}",
                      'start it "v=DMARC1; p=none;" (p is none, quarantine or reject)')], None
    policy = tags["p"].lower()
    meaning = {"none": "reports only; receivers act on nothing",
               "quarantine": "failing mail goes to spam", "reject": "failing mail is refused"}[policy]
    pct = _percent(tags.get("pct", "100"))
    if pct is None:
        return [error("dmarc", f"the DMARC record at {name} has pct={tags['pct']}, not a number from 0 to 100",
                      "remove pct= (the default is 100) or set a whole number")], tags
    if policy != "none" and pct == 0:
        return [warning("dmarc", f"{name}: policy p={policy} with pct=0 is applied to no mail at all: "
                                 "receivers treat failing mail as with p=none",
                        "remove pct=0 once your reports show your mail passes")], tags
    if policy != "none" and pct < 100:
        meaning += f", for {pct}% of failing mail"
    return [ok("dmarc", f"{name}: policy p={policy} ({meaning})")], tags


def _percent(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() and int(value) <= 100 else None


def _aligned(domain: str, from_domain: str, strict: bool) -> bool:
    if strict:
        return domain.lower() == from_domain.lower()
    return org_domain(domain) == org_domain(from_domain)


def check_alignment(from_domain: str, *, dkim_domain: str | None, spf_domain: str,
                    tags: dict[str, str] | None) -> list[Diagnosis]:
    """DMARC passes only when the DKIM `d=` or the SPF (envelope) domain matches the From domain."""
    tags = tags or {}
    found = []
    strict_dkim, strict_spf = tags.get("adkim", "r").lower() == "s", tags.get("aspf", "r").lower() == "s"
    if dkim_domain is None:
        found.append(error("alignment", "no DKIM signature: DMARC can only pass on SPF, which forwarding breaks",
                           "Gmail and Yahoo require DKIM from bulk senders: `newsletter dkim keygen`, "
                           "then add the dkim: block it prints"))
    elif _aligned(dkim_domain, from_domain, strict_dkim):
        found.append(ok("alignment", f"DKIM d={dkim_domain} aligns with From {from_domain}"))
    else:
        found.append(error("alignment", f"DKIM d={dkim_domain} does not align with From {from_domain}"
                           + (" (adkim=s needs the same domain)" if strict_dkim else ""),
                           f"sign with dkim.domain: {from_domain}"))
    if _aligned(spf_domain, from_domain, strict_spf):
        found.append(ok("alignment", f"SPF is checked for {spf_domain} (MAIL FROM), aligned with From"))
    else:
        found.append(warning("alignment", f"SPF is checked for {spf_domain}, not aligned with From {from_domain}",
                             "DMARC then rests on DKIM alone"))
    return found


# --- DKIM --------------------------------------------------------------------------------

def check_dkim(resolver: dns.resolver.Resolver, name: str, expected: str) -> list[Diagnosis]:
    """The selector's TXT record exists and publishes the public half of the configured key."""
    records = [r for r in txt_records(resolver, name) if "p=" in r]
    wanted = _tags(expected) or {}
    if not records:
        return [error("dkim", f"no DKIM record at {name}",
                      f'publish a TXT record at {name}: "{expected[:40]}..." (`newsletter dkim keygen` '
                      "printed it; `doctor` checks it matches the key)")]
    if len(records) > 1:
        return [error("dkim", f"{len(records)} DKIM records at {name}", "keep exactly one")]
    tags = _tags(records[0])
    if tags is None:
        return [error("dkim", f"the DKIM record at {name} is not a tag list: {records[0][:60]}",
                      'it reads "v=DKIM1; k=rsa; p=..."')]
    published = "".join(tags.get("p", "").split())
    if not published:
        return [error("dkim", f"the DKIM record at {name} is revoked (empty p=)", "publish the current key")]
    key_type = tags.get("k", "rsa").lower()
    if key_type != "rsa":
        return [error("dkim", f"the DKIM record at {name} says k={key_type}, but the configured key is RSA: "
                              "receivers will not verify the signature",
                      "publish the record `newsletter dkim keygen` printed (k=rsa)")]
    hashes = [h.strip().lower() for h in tags.get("h", "sha256").split(":")]
    if "sha256" not in hashes:
        return [error("dkim", f"the DKIM record at {name} allows only h={tags['h']}, but signatures use sha256",
                      "remove h= from the record (or list sha256)")]
    if published != wanted.get("p"):
        return [error("dkim", f"the key published at {name} is not the public half of the configured key",
                      "publish the record for this key again, or point dkim.key_file at the matching key")]
    return [ok("dkim", f"{name} publishes the configured key")]
