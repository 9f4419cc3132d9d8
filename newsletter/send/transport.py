"""Which SMTP server a send goes through, read from the config: the relay, or the embedded outbox.

A run, a test send, a confirmation mail and `doctor` read the `smtp:` block the same way
here: the command line's overrides applied, the password read from its environment
variable or 0600 file, the TLS and AUTH policy checked (`deliver.connection.check_transport`).
`deliver` gets the resulting plain `Transport` and the outbox folder, never the config.
"""

from __future__ import annotations

import os

from newsletter.config import Config, SmtpConfig
from newsletter.deliver import Transport, check_transport, is_loopback
from newsletter.errors import ConfigError, SendError

__all__ = ["leaves_machine", "resolve_transport", "transport_from_config", "transport_label"]


def _smtp_config(config: Config, host: str | None) -> SmtpConfig | None:
    """The `smtp:` block; without one, `--smtp-host` alone stands for a relay with the defaults."""
    if config.smtp is not None:
        return config.smtp
    return SmtpConfig(host=host) if host else None


def resolve_transport(config: Config, *, host: str | None = None, port: int | None = None,
                      concurrency: int | None = None, log_in: bool = True) -> Transport | None:
    """The configured relay with command-line overrides; None means the embedded outbox."""
    smtp = _smtp_config(config, host)
    if smtp is None:
        if port:
            raise SendError("--smtp-port needs --smtp-host (or an smtp: block in the config)")
        return None
    return transport_from_config(smtp, host=host, port=port, concurrency=concurrency, log_in=log_in)


def leaves_machine(config: Config, *, host: str | None = None) -> bool:
    """Whether mail would leave this machine: a relay not on loopback. The outbox and a test
    relay on 127.0.0.1 do not; reads no password, so a dry run and the checks can ask."""
    smtp = _smtp_config(config, host)
    return smtp is not None and not is_loopback(host or smtp.host)


def transport_label(config: Config, transport: Transport | None) -> str:
    """Where the mail goes, as the confirmation and the summary say it."""
    if transport is None:
        return f"the local outbox {config.outbox_dir} (no mail leaves this machine)"
    return f"{transport.label} ({transport.security})"


def _password(smtp: SmtpConfig) -> str | None:
    if smtp.password_env and os.environ.get(smtp.password_env):
        return os.environ[smtp.password_env]
    if smtp.password_file is not None:
        try:
            return smtp.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the SMTP password: {exc.strerror}", path=smtp.password_file,
                              field="smtp.password_file") from exc
    return None


def transport_from_config(smtp: SmtpConfig, *, host: str | None = None, port: int | None = None,
                          concurrency: int | None = None, log_in: bool = True) -> Transport:
    """The `smtp:` block with the command line's overrides, its password read and its security checked.

    `log_in=False` is for callers that never open a session (`doctor --no-relay`): they need
    the relay's name and policy, not its password, so a missing password is no error."""
    password = _password(smtp) if smtp.username and log_in else None
    if smtp.username and password is None and log_in:
        raise ConfigError(f"no SMTP password for {smtp.username}", field="smtp.password_env",
                          hint=f"export {smtp.password_env}=... or set smtp.password_file")
    transport = Transport(
        host=host or smtp.host,
        port=port or smtp.port,
        security=smtp.security,
        username=smtp.username,
        password=password,
        concurrency=concurrency or smtp.concurrency,
        rate=smtp.rate,
        reconnect_after=smtp.reconnect_after,
        timeout=smtp.timeout,
        max_connection_failures=smtp.max_connection_failures,
        retries=smtp.retries,
        retry_delay=smtp.retry_delay,
        ca_file=smtp.ca_file,
        allow_insecure=smtp.allow_insecure,
    )
    check_transport(transport)
    return transport
