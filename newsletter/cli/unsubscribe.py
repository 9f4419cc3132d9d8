"""`newsletter serve` (alias `unsubscribe-server`): serve the subscriber site with uvicorn."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from newsletter.cli.options import config_option, load

__all__ = ["serve"]


@click.command("serve")
@config_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; keep 127.0.0.1 behind a reverse proxy.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free one).")
@click.option("--proxy-headers/--no-proxy-headers", default=True, show_default=True,
              help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips (for the client address in logs).")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True, metavar="IPS",
              help="Comma-separated proxy addresses whose X-Forwarded-* headers are trusted.")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="Log each request (tokens in URLs are blanked).")
@click.option("--limit-concurrency", default=100, show_default=True, type=click.IntRange(1),
              help="Connections and requests at once; more get a quick 503.")
@click.option("--header-timeout", default=10.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds a client has to send a request's head before it is disconnected.")
def serve(config_path: Path, host: str, port: int, proxy_headers: bool,
          forwarded_allow_ips: str, access_log: bool, limit_concurrency: int, header_timeout: float) -> None:
    """Serve the subscriber site: unsubscribe links (one-click POST, RFC 8058), the topics
    page (with `preferences_url`) and the sign-up page (with a `subscribe:` block).

    Answers on the path of `unsubscribe.url` in the config and writes unsubscribes to
    the suppression list in the state file that `send` reads; sign-ups are confirmed by
    a mailed link and kept there too. `unsubscribe-server` is the old name of this command. The token secret must be
    the one `send` signed with ($NEWSLETTER_TOKEN_SECRET, tokens.secret_file, or the
    .newsletter-secret beside the config that `init` or the first `send` made); with none,
    it refuses to start rather than make one.

    \b
    Example:
      newsletter serve --port 8080
      # behind nginx/Caddy on the same machine, proxying https://example.org/unsubscribe
      newsletter serve --host 127.0.0.1 --port 8080 --forwarded-allow-ips 127.0.0.1
    """
    import uvicorn  # imported here: the other commands do not need it

    from newsletter.deliver import is_loopback
    from newsletter.site import (
        AddressRedactor,
        RepeatFilter,
        TokenRedactor,
        create_app,
        preferences_path,
        server_config,
        subscribe_path,
        unsubscribe_path,
    )
    from newsletter.tokens import describe_secrets

    config = load(config_path)
    app = create_app(config)  # no token secret: one error line, no server (it never makes one)
    click.echo(f"Unsubscribe server for {config.name} ({config.list_id})")
    shown_port = port or "<free port, see below>"
    click.echo(f"  listening on http://{_url_host(host)}:{shown_port}{unsubscribe_path(config)} "
               f"(links in mail: {config.unsubscribe_url})")
    topics = preferences_path(config)
    if topics is None:
        click.echo("  topics page: off (set preferences_url in the config to let subscribers choose themes)")
    else:
        click.echo(f"  topics page on http://{_url_host(host)}:{shown_port}{topics} "
                   f"(links in mail: {config.preferences_url})")
    if config.subscribe is not None:
        click.echo(f"  sign-up page on {subscribe_path(config)} (links in mail: {config.subscribe.url}/confirm)")
    click.echo(f"  state: {config.state}")
    click.echo(f"  token secret: {describe_secrets(config)}")
    if not is_loopback(host):
        click.echo("warning: listening beyond this machine; put it behind a reverse proxy with TLS", err=True)
    _log_events()
    server = uvicorn.Server(server_config(app, host=host, port=port, header_timeout=header_timeout,
                                          limit_concurrency=limit_concurrency, proxy_headers=proxy_headers,
                                          forwarded_allow_ips=forwarded_allow_ips, access_log=access_log,
                                          log_level="info"))
    server.config.load()  # configures uvicorn's loggers; the filters go on after that
    logging.getLogger("uvicorn.access").addFilter(TokenRedactor())
    for name in ("uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).addFilter(AddressRedactor())
    logging.getLogger("uvicorn.error").addFilter(RepeatFilter())  # the access log stays whole
    server.run()


def _log_events() -> None:
    """Show 'unsubscribed (one-click)' lines beside uvicorn's; no address in any of them
    (the embedded outbox's own SMTP log, which names recipients, is kept quiet)."""
    from newsletter.site import AddressRedactor, RepeatFilter

    logger = logging.getLogger("newsletter.unsubscribe")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        handler.addFilter(AddressRedactor())
        handler.addFilter(RepeatFilter())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logging.getLogger("mail.log").setLevel(logging.ERROR)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
