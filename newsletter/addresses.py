"""Email addresses: checked once, kept as delivered, compared by one key.

Two words, one meaning each, everywhere (the CSV, the journal, the site, the send):

| name  | what it is                                         | made by          |
|-------|----------------------------------------------------|------------------|
| email | the address as delivered (`RCPT TO`, `To:`)         | `check_address`  |
| key   | trimmed and lower-cased: how addresses are compared and stored in the journal | `address_key` |

`check_address` validates with email-validator (syntax only, no DNS) and refuses a cell a
spreadsheet would run as a formula; `AddressChecker` is the same check with a per-domain
cache for a 100,000-row list. email-validator is imported on first use, so modules that
only compare addresses (tokens, the journal) stay light.
"""

from __future__ import annotations

import re

from newsletter.files import FORMULA_STARTS

__all__ = ["AddressChecker", "address_key", "check_address", "checked_key", "example_domain_in"]

# A plain dot-atom local part: what email-validator accepts without further thought.
_SIMPLE_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")


# Names reserved for documentation and tests (RFC 2606, RFC 6761): nobody reads mail there.
_EXAMPLE = re.compile(r"(?:^|[^\w.-])((?:[\w-]+\.)*(?:example\.(?:com|net|org)|[\w-]+\.(?:example|test|invalid)))"
                      r"(?![\w-]|\.[\w-])", re.I)


def example_domain_in(text: str) -> str | None:
    """The first reserved example domain in an address, a URL or a line of text
    (`example.org`, `news.example.com`, `site.test`), or None: placeholders, not a sender."""
    match = _EXAMPLE.search(text)
    return match.group(1).lower() if match else None


def address_key(email: str) -> str:
    """The key an address is compared and stored under: trimmed and lower-cased."""
    return email.strip().lower()


class AddressChecker:
    """email-validator with a per-domain cache; `ValueError` (with the reason) for a bad address.

    email-validator costs about 90 µs an address, most of it on the domain; a domain it
    has accepted once is not checked again when the local part is a plain dot-atom.
    """

    def __init__(self) -> None:
        self.domains: dict[str, str] = {}

    def __call__(self, address: str) -> str:
        from email_validator import EmailNotValidError, validate_email

        if address.startswith(FORMULA_STARTS):
            raise EmailNotValidError(f"it starts with {address[0]!r}, which spreadsheets run as a formula")
        local, at, domain = address.rpartition("@")
        known = self.domains.get(domain)
        if known and at and len(local) <= 64 and _SIMPLE_LOCAL.match(local) and len(address) <= 254:
            return f"{local}@{known}"
        valid = validate_email(address, check_deliverability=False, allow_smtputf8=False)
        email = valid.ascii_email or valid.normalized
        self.domains[domain] = email.rpartition("@")[2]
        return email


def check_address(address: str) -> str:
    """The address as it will be delivered to, or `ValueError` with email-validator's reason."""
    return AddressChecker()(address.strip())


def checked_key(address: str) -> str:
    """The key of a valid address; `ValueError` (with the reason) if it is not one."""
    return address_key(check_address(address))
