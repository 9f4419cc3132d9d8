"""`newsletter preview`: build the issue, serve it on 127.0.0.1 and rebuild on every change."""

from __future__ import annotations

import logging
import threading
import webbrowser
from pathlib import Path

import click

from newsletter.cli.options import config_option, issue_range, load, range_options


@click.command()
@range_options
@config_option
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to serve on; the next free one is used if it is taken (0: any).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but a loopback address shows the preview "
                   "(and the outbox) to your network.")
@click.option("--no-open", "no_open", is_flag=True, help="Do not open the browser.")
def preview(month: str | None, since: str | None, until: str | None, config_path: Path,
            port: int, host: str, no_open: bool) -> None:
    """Preview the issue for MONTH in the browser, rebuilt live as you edit.

    Watches items/, the templates and newsletter.yaml; the open page reloads by itself
    after each rebuild and shows build errors with file, line and hint. The Outbox tab
    lists what `newsletter send` delivered locally. Stop with Ctrl-C.

    \b
    Example:
      newsletter preview 2023-07
      newsletter preview --since 2023-06-15 --until 2023-07-14 --port 8080 --no-open
    """
    # the web stack loads only for this command, so other commands start faster
    from newsletter.preview import LiveBuild, create_app, listen, make_server

    config = load(config_path)  # a missing or broken config stops here, before anything is served
    logging.basicConfig(format="%(message)s", level=logging.WARNING)
    logging.getLogger("newsletter.preview").setLevel(logging.INFO)
    live = LiveBuild(config_path, issue_range(config, month, since, until))
    if not live.rebuild().ok:  # the build logs each error; serve anyway, the page shows them
        click.echo("The issue does not build yet: the page shows why and reloads once it is fixed.", err=True)
    listener = listen(host, port)
    actual = listener.sock.getsockname()[1]
    if port and actual != port:
        click.echo(f"Port {port} is in use; using {actual} instead.")
    url = listener.url
    server = make_server(create_app(live, allowed_hosts=listener.allowed_hosts), on_exit=live.release_waiters)
    click.echo(f"Previewing {live.date_range.label} at {url}  (Ctrl-C to stop)")
    if listener.public:
        click.echo(f"warning: listening on {host}: the preview and the outbox are open to your network",
                   err=True)
    if not no_open:
        opener = threading.Timer(0.5, webbrowser.open, args=(url,))
        opener.daemon = True  # a slow or missing browser never holds up Ctrl-C
        opener.start()
    try:
        server.run(sockets=[listener.sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled; stopping is success
        pass
    click.echo("Stopped.")

