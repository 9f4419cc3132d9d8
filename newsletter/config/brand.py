"""The sender's brand in the email: the masthead logo and the organisation in the footer.

Both are validated here (the colours and their dark palette are `palette.py`'s).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from newsletter.config.reader import ConfigReader
from newsletter.config.schema import LOGO, ORGANISATION
from newsletter.yamldoc import LineMap

__all__ = ["Logo", "Organisation", "read_logo", "read_organisation"]


@dataclass(frozen=True)
class Logo:
    """The masthead's image: an https address mail clients can load, with alt text and size.

    `width` (and `height` when known) go on the <img> as attributes, so Outlook and
    image-blocking clients keep the space and show the alt text at the right size.
    """

    src: str
    alt: str
    width: int
    height: int | None = None


@dataclass(frozen=True)
class Organisation:
    """Who sends the email, shown in every footer: UK and US rules for marketing mail ask
    for a postal address, and readers look for it to judge the message."""

    name: str
    address: str | None = None
    registered: str | None = None  # e.g. "Registered charity 1234567"
    contact: str | None = None  # https://... page or an email address
    privacy_url: str | None = None  # the privacy notice, linked from every page and mail footer

    @property
    def contact_url(self) -> str | None:
        """The contact as a link: a web page as is, an email address as mailto:."""
        if not self.contact:
            return None
        return self.contact if self.contact.startswith(("https://", "http://")) else f"mailto:{self.contact}"


_LOGO_MAX_WIDTH = 552  # the body column of the 600 px email, inside its 24 px padding


def read_logo(r: ConfigReader, data: LineMap) -> Logo | None:
    """The masthead logo; its `src` must be an https address, never a file on this computer.

    A local file would be seen by nobody: subscribers' mail clients load the image from the
    web. Publishing it with the archive was considered and refused: the email would then
    depend on the archive being uploaded before the send, and a missed upload breaks the
    logo in every inbox at once. So the officer uploads it to the website and names it here.
    """
    section = r.section(data, "logo", LOGO.kinds())
    if section is None:
        return None
    src = r.text(section, "src", required=True) or ""
    alt = r.text(section, "alt", required=True) or ""
    if src and not src.startswith("https://"):
        where = "a file on this computer" if "://" not in src else "not an https:// address"
        r.error(section, "src", f"{where}: {src!r}; mail clients load the logo from the web",
                "upload the logo to your website and write its https:// address here")
    elif src and any(c.isspace() or c in '<>"' for c in src):
        r.error(section, "src", f"not a usable address: {src!r}", "remove spaces, quotes and <>")
    if "alt" in section and not alt:
        r.error(section, "alt", "must say what the logo shows", 'e.g. alt: "Example Trust"')
    if "width" not in section:
        r.error(section, "width", "missing", "add the width in pixels to show it at, e.g. width: 160")
    width = _pixels(r, section, "width", 160) or 160
    height = _pixels(r, section, "height", None)
    return Logo(src=src, alt=alt, width=width, height=height)


def _pixels(r: ConfigReader, section: LineMap, key: str, default: int | None) -> int | None:
    """A whole number of pixels that fits the email's body column."""
    value = section.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _LOGO_MAX_WIDTH:
        r.error(section, key, f"must be a whole number of pixels from 1 to {_LOGO_MAX_WIDTH}, not {value!r}",
                f"e.g. {key}: 160")
        return default
    return value


def read_organisation(r: ConfigReader, data: LineMap) -> Organisation | None:
    """The sender's identity for the footer: name required, address strongly advised."""
    section = r.section(data, "organisation", ORGANISATION.kinds())
    if section is None:
        return None
    contact = r.text(section, "contact")
    if contact and not (contact.startswith(("https://", "http://")) or _EMAIL_RE.match(contact)):
        r.error(section, "contact", f"not a web address or an email address: {contact!r}",
                "e.g. contact: https://example.org/contact or contact: hello@example.org")
    privacy_url = r.text(section, "privacy_url")
    if privacy_url and not _is_web_address(privacy_url):
        r.error(section, "privacy_url", f"not a web address: {privacy_url!r}",
                "use https://..., e.g. privacy_url: https://example.org/privacy")
    return Organisation(
        name=r.text(section, "name", required=True) or "",
        address=" ".join((r.text(section, "address") or "").split()) or None,
        registered=r.text(section, "registered") or None,
        contact=contact or None,
        privacy_url=privacy_url or None,
    )


def _is_web_address(url: str) -> bool:
    """An http(s) address with a host, fit to paste into a link as is (as `archive_url`):
    one line, no spaces, quotes or angle brackets."""
    return (url.startswith(("https://", "http://")) and bool(urlsplit(url).hostname)
            and not any(c.isspace() or c in '<>"' or ord(c) < 32 for c in url))


_EMAIL_RE = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
