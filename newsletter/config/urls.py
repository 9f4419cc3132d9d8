"""The subscriber site's web addresses: one spelling for the link in the mail and the route.

`unsubscribe.url` and `preferences_url` are both written into every email (with `?t=<token>`
added) and answered by `newsletter serve` on their path. If the two disagree (a trailing
`/`, a `..` segment, an escaped character), the server answers the link with a redirect or
a 404 and a one-click POST suppresses nobody. So the config loader normalises the address
once (`normalise_site_url`), the server routes on `route_path` of that same string, and
`check` compares the built message's links with `route_path` too.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit, urlunsplit

__all__ = ["normalise_site_url", "route_path"]


def route_path(url: str) -> str:
    """The path the subscriber site answers `url` on: its path without a trailing slash."""
    return urlsplit(url).path.rstrip("/") or "/"


def normalise_site_url(url: str) -> tuple[str, str | None]:
    """(the address as links will spell it, None) or (url, what is wrong with it).

    A trailing slash is dropped (the route has none, and a link with one would be
    redirected, which a one-click POST does not follow); what cannot be made to agree
    with a route is refused: a #fragment, a `t` query parameter (the token's), a path
    with `//`, `.` or `..` segments, or `%`-escapes (the server routes on the decoded path).
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return url, f"not a web address ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return url, "not a web address with a host"
    if parts.fragment or url.endswith("#"):
        return url, "must not have a #fragment (the link adds ?t=<token> itself)"
    if any(key == "t" for key, _ in parse_qsl(parts.query, keep_blank_values=True)):
        return url, "must not have a `t=` query parameter (the link adds ?t=<token> itself)"
    path = parts.path
    segments = path.split("/")[1:-1] if path.endswith("/") else path.split("/")[1:]
    if "%" in path or any(s in ("", ".", "..") for s in segments):
        return url, f"the path {path!r} must be plain (no //, . or .. segments, no %-escapes)"
    return urlunsplit((parts.scheme, parts.netloc, route_path(url), parts.query, "")), None
