"""`newsletter dkim keygen`: a signing key and the DNS record that publishes it."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def dkim() -> None:
    """DKIM signing: create the key `send` signs with.

    \b
    Example:
      newsletter dkim keygen --selector nl2024 --domain example.org
    """


@dkim.command()
@click.option("--selector", required=True, help="The key's name in DNS, e.g. nl2024.")
@click.option("--domain", required=True, help="The signing domain (usually the From address's).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the private key (default: dkim-SELECTOR.key). Never overwritten.")
def keygen(selector: str, domain: str, out: Path | None) -> None:
    """Write a 2048-bit RSA private key (mode 0600) and print its DNS TXT record.

    \b
    Example:
      newsletter dkim keygen --selector nl2024 --domain example.org --out secrets/dkim.key
    """
    from newsletter.send import generate_key, public_key_record, record_name, write_private_key, zone_strings

    selector, domain = selector.strip(), domain.strip().rstrip(".")
    if not selector or any(c.isspace() or c in "./;\"" for c in selector):
        raise click.BadParameter("use letters, digits and hyphens, e.g. nl2024", param_hint="--selector")
    if "." not in domain or any(c.isspace() for c in domain):
        raise click.BadParameter("give a domain name such as example.org", param_hint="--domain")
    path = out or Path(f"dkim-{selector}.key")
    key = generate_key()
    write_private_key(key, path)
    value = public_key_record(key)
    click.echo(f"Wrote the private key to {path} (readable by you only; keep it out of git).")
    click.echo("\nPublish this DNS TXT record:")
    click.echo(f"  name:  {record_name(selector, domain)}")
    click.echo(f"  value: {value}")
    click.echo("\nIn a zone file (long values are split into 255-character strings):")
    click.echo(f"  {record_name(selector, domain)}. IN TXT ( {zone_strings(value)} )")
    click.echo("\nThen add to newsletter.yaml:")
    click.echo(f"  dkim: {{domain: {domain}, selector: {selector}, key_file: {path}}}")
