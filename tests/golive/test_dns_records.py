"""`doctor`'s reading of SPF, DKIM and DMARC records that look fine and are not.

A record that lets anyone send, a DKIM record for another kind of key, a DMARC policy
applied to no mail, a relay SPF does not cover: each is named, and none of them ends in
"ready to go live". One record that DNS does not answer for is its own error line and
hides no other check. Zones are served by dnslib on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.dnsserver import ZoneServer

from newsletter.cli import main
from newsletter.golive.dns import org_domain
from newsletter.send import generate_key, public_key_record, write_private_key, zone_strings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = generate_key()
RELAY = "relay.charity-news.org.uk. 300 IN A 192.0.2.10\n"


def txt(name: str, value: str) -> str:
    return f"{name}. 300 IN TXT {zone_strings(value)}\n"


def zone(*, spf: str = "v=spf1 ip4:192.0.2.10 -all", dmarc: str = "v=DMARC1; p=quarantine",
         dkim: str | None = None, extra: str = "") -> str:
    return (txt("charity-news.org.uk", spf) + txt("_dmarc.charity-news.org.uk", dmarc)
            + txt("news._domainkey.charity-news.org.uk", dkim or public_key_record(KEY)) + RELAY + extra)


def doctor(tmp_path: Path, dns: ZoneServer) -> Result:
    if not (tmp_path / "dkim.key").exists():
        write_private_key(KEY, tmp_path / "dkim.key")
    (tmp_path / "newsletter.yaml").write_text(
        'name: Digest\nfrom: "Digest <news@charity-news.org.uk>"\nthemes: [News]\n'
        "unsubscribe: {url: 'https://charity-news.org.uk/unsubscribe', mailto: unsubscribe@charity-news.org.uk}\n"
        "smtp: {host: relay.charity-news.org.uk, port: 587, security: starttls}\n"
        "dkim: {domain: charity-news.org.uk, selector: news, key_file: dkim.key}\n", encoding="utf-8")
    (tmp_path / ".newsletter-secret").write_text("doctor-test-secret")
    return CliRunner().invoke(main, ["doctor", "--config", str(tmp_path / "newsletter.yaml"),
                                     "--nameserver", dns.address, "--no-relay"])


def lines(result: Result, level: str, topic: str = "") -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith(f"{level}: {topic}")]


@pytest.mark.parametrize("spf, extra", [
    ("v=spf1 ip4:192.0.2.10 include:_spf.example.net -all", txt("_spf.example.net", "v=spf1 +all")),
    ("v=spf1 ip4:192.0.2.10 redirect=_spf.example.net", txt("_spf.example.net", "v=spf1 all")),
    ("v=spf1 ip4:0.0.0.0/0 -all", ""),
    ("v=spf1 ip4:192.0.2.10 ip6:::/0 -all", ""),
])
def test_an_spf_record_that_lets_anyone_send_is_an_error(tmp_path: Path, spf: str, extra: str) -> None:
    with ZoneServer(zone(spf=spf, extra=extra)) as dns:
        result = doctor(tmp_path, dns)
    assert result.exit_code == 1, result.output
    [line] = lines(result, "error", "spf")
    assert line.startswith("error: spf: the SPF record for charity-news.org.uk lets any address send as charity-news.org.uk")
    assert "ready to go live" not in result.output


def test_a_relay_spf_does_not_cover_is_not_ready_to_go_live(tmp_path: Path) -> None:
    with ZoneServer(zone(spf="v=spf1 ip4:192.0.2.99 -all")) as dns:
        result = doctor(tmp_path, dns)
    assert result.exit_code == 1
    assert lines(result, "error", "spf") == [
        "error: spf: it does not authorise the relay's address 192.0.2.10 (SPF fail): receivers will see mail "
        "from the relay fail SPF (add the relay (e.g. include: your provider's SPF domain or ip4:ADDRESS); "
        "a provider may send from other addresses than it receives on, check its docs)"]
    assert result.output.endswith("fix the errors above before sending\n")


def test_dkim_records_for_another_key_type_or_hash_are_errors(tmp_path: Path) -> None:
    record = public_key_record(KEY)
    with ZoneServer(zone(dkim=record.replace("k=rsa", "k=ed25519"))) as dns:
        result = doctor(tmp_path, dns)
        assert lines(result, "error", "dkim") == [
            "error: dkim: the DKIM record at news._domainkey.charity-news.org.uk says k=ed25519, but the configured key "
            "is RSA: receivers will not verify the signature (publish the record `newsletter dkim keygen` "
            "printed (k=rsa))"]
        dns.set_zone(zone(dkim=record.replace("v=DKIM1;", "v=DKIM1; h=sha1;")))
        result = doctor(tmp_path, dns)
    assert lines(result, "error", "dkim") == [
        "error: dkim: the DKIM record at news._domainkey.charity-news.org.uk allows only h=sha1, but signatures use "
        "sha256 (remove h= from the record (or list sha256))"]
    assert result.exit_code == 1


def test_a_dmarc_policy_applied_to_no_mail_is_not_called_refused(tmp_path: Path) -> None:
    with ZoneServer(zone(dmarc="v=DMARC1; p=reject; pct=0")) as dns:
        result = doctor(tmp_path, dns)
        assert lines(result, "warning", "dmarc") == [
            "warning: dmarc: _dmarc.charity-news.org.uk: policy p=reject with pct=0 is applied to no mail at all: "
            "receivers treat failing mail as with p=none (remove pct=0 once your reports show your mail passes)"]
        assert "refused" not in "\n".join(lines(result, "ok", "dmarc"))
        dns.set_zone(zone(dmarc="v=DMARC1; p=reject; pct=25"))
        result = doctor(tmp_path, dns)
    assert lines(result, "ok", "dmarc") == [
        "ok: dmarc: _dmarc.charity-news.org.uk: policy p=reject (failing mail is refused, for 25% of failing mail)"]


def test_one_unanswered_record_hides_no_other_check(tmp_path: Path) -> None:
    with ZoneServer(zone(), failing=("_dmarc.charity-news.org.uk",)) as dns:
        result = doctor(tmp_path, dns)
    assert result.exit_code == 1
    [dns_error] = lines(result, "error", "dns")
    assert dns_error.startswith("error: dns: no answer from DNS for _dmarc.charity-news.org.uk")
    assert lines(result, "ok", "spf") and lines(result, "ok", "dkim") and lines(result, "ok", "alignment")


@pytest.mark.parametrize("domain, organisational", [
    ("news.example.org", "example.org"),
    ("mail.example.co.uk", "example.co.uk"),
    ("digest.lancashire.police.uk", "lancashire.police.uk"),
    ("lettre.education.gouv.fr", "education.gouv.fr"),
    ("news.example.org.au", "example.org.au"),
    ("EXAMPLE.ORG.", "example.org"),
])
def test_organisational_domains_follow_the_public_suffix_list(domain: str, organisational: str) -> None:
    assert org_domain(domain) == organisational


def test_no_relay_asks_for_no_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCTOR_UNUSED_PASSWORD", raising=False)
    with ZoneServer(zone()) as dns:
        doctor(tmp_path, dns)  # writes the config
        config = tmp_path / "newsletter.yaml"
        config.write_text(config.read_text().replace(
            "security: starttls}", "security: starttls, username: digest, password_env: DOCTOR_UNUSED_PASSWORD}"))
        result = CliRunner().invoke(main, ["doctor", "--config", str(config), "--nameserver", dns.address,
                                           "--no-relay"])
        assert result.exit_code == 0, result.output
        assert "password" not in result.output
        result = CliRunner().invoke(main, ["doctor", "--config", str(config), "--nameserver", dns.address])
    assert "error: relay: smtp.password_env: no SMTP password for digest" in result.output


def test_settings_on_example_domains_are_not_ready_to_go_live(tmp_path: Path) -> None:
    with ZoneServer(zone()) as dns:
        doctor(tmp_path, dns)
        config = tmp_path / "newsletter.yaml"
        config.write_text(config.read_text().replace("https://charity-news.org.uk/unsubscribe",
                                                     "https://example.org/unsubscribe"))
        result = CliRunner().invoke(main, ["doctor", "--config", str(config), "--nameserver", dns.address,
                                           "--no-relay"])
    assert result.exit_code == 1
    assert lines(result, "error", "placeholder") == [
        "error: placeholder: unsubscribe.url uses example.org, a domain reserved for examples: "
        "https://example.org/unsubscribe (put your own domain here)"]
