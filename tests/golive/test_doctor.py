"""`newsletter doctor` against good and broken zones (dnslib on 127.0.0.1) and a real test relay.

Each broken record must be named on its own line, with the fix; a good setup exits 0.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from starlette.testclient import TestClient
from support.dnsserver import ZoneServer
from support.project import serve_asgi
from support.smtpserver import SmtpServer, self_signed_tls

from newsletter import journal
from newsletter.cli import main
from newsletter.config import load_config
from newsletter.send import generate_key, public_key_record, write_private_key, zone_strings
from newsletter.site import create_app
from newsletter.tokens import PROBE_ADDRESS, make_token, token_keys

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = generate_key()
OTHER_KEY = generate_key()


def txt(name: str, value: str) -> str:
    return f"{name}. 300 IN TXT {zone_strings(value)}\n"


GOOD = (
    txt("charity-news.org.uk", "v=spf1 ip4:192.0.2.10 -all")
    + txt("_dmarc.charity-news.org.uk", "v=DMARC1; p=quarantine; rua=mailto:dmarc@charity-news.org.uk")
    + txt("news._domainkey.charity-news.org.uk", public_key_record(KEY))
    + "relay.charity-news.org.uk. 300 IN A 192.0.2.10\n"
)


def folder(tmp_path: Path, *, smtp: str = "{host: relay.charity-news.org.uk, port: 587, security: starttls}",
           dkim_domain: str = "charity-news.org.uk", unsubscribe: str = "https://charity-news.org.uk/unsubscribe") -> Path:
    write_private_key(KEY, tmp_path / "dkim.key")
    (tmp_path / "newsletter.yaml").write_text(
        "name: Digest\n"
        'from: "Digest <news@charity-news.org.uk>"\n'
        "themes: [News]\n"
        f"unsubscribe: {{url: '{unsubscribe}', mailto: unsubscribe@charity-news.org.uk}}\n"
        f"smtp: {smtp}\n"
        f"dkim: {{domain: {dkim_domain}, selector: news, key_file: dkim.key}}\n", encoding="utf-8")
    (tmp_path / ".newsletter-secret").write_text("doctor-test-secret")
    return tmp_path / "newsletter.yaml"


def doctor(config: Path, dns: ZoneServer, *args: str) -> Result:
    return CliRunner().invoke(main, ["doctor", "--config", str(config), "--nameserver", dns.address, *args])


def lines(result: Result, level: str) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith(f"{level}: ")]


def test_a_good_setup_passes(tmp_path: Path) -> None:
    with ZoneServer(GOOD) as dns:
        result = doctor(folder(tmp_path), dns, "--no-relay")
    assert result.exit_code == 0, result.output
    assert lines(result, "ok") == [
        "ok: spf: charity-news.org.uk has one SPF record: v=spf1 ip4:192.0.2.10 -all",
        "ok: spf: it authorises the relay's address 192.0.2.10",
        "ok: dmarc: _dmarc.charity-news.org.uk: policy p=quarantine (failing mail goes to spam)",
        "ok: dkim: news._domainkey.charity-news.org.uk publishes the configured key",
        "ok: alignment: DKIM d=charity-news.org.uk aligns with From charity-news.org.uk",
        "ok: alignment: SPF is checked for charity-news.org.uk (MAIL FROM), aligned with From",
        "ok: unsubscribe: unsubscribe.url is https: https://charity-news.org.uk/unsubscribe",
        f"ok: state: {tmp_path / 'newsletter.db'}: not created yet (the first send creates it)",
    ]
    assert result.output.endswith("0 errors, 0 warnings: ready to go live\n")


def test_missing_records_are_each_named_with_the_fix(tmp_path: Path) -> None:
    with ZoneServer("relay.charity-news.org.uk. 300 IN A 192.0.2.10\n") as dns:
        result = doctor(folder(tmp_path, unsubscribe="http://charity-news.org.uk/unsubscribe"), dns, "--no-relay")
    assert result.exit_code == 1
    assert lines(result, "error") == [
        'error: spf: no SPF record for charity-news.org.uk (publish a TXT record at charity-news.org.uk: '
        '"v=spf1 include:<your provider\'s SPF domain> -all")',
        'error: dmarc: no DMARC record at _dmarc.charity-news.org.uk (publish a TXT record at _dmarc.charity-news.org.uk: '
        '"v=DMARC1; p=none; rua=mailto:dmarc@charity-news.org.uk"; Gmail and Yahoo require one from bulk senders)',
        f'error: dkim: no DKIM record at news._domainkey.charity-news.org.uk (publish a TXT record at '
        f'news._domainkey.charity-news.org.uk: "{public_key_record(KEY)[:40]}..." (`newsletter dkim keygen` printed it; '
        "`doctor` checks it matches the key))",
        "error: unsubscribe: unsubscribe.url is not https: http://charity-news.org.uk/unsubscribe (Gmail and Yahoo "
        "want one-click unsubscribe over https; serve it behind TLS)",
    ]
    assert result.output.endswith("4 errors, 0 warnings: fix the errors above before sending\n")


def test_broken_records_are_each_named(tmp_path: Path) -> None:
    broken = (
        txt("charity-news.org.uk", "v=spf1 ip4:192.0.2.99 +all")
        + txt("_dmarc.charity-news.org.uk", "v=DMARC1; p=maybe")
        + txt("news._domainkey.charity-news.org.uk", public_key_record(OTHER_KEY))
        + "relay.charity-news.org.uk. 300 IN A 192.0.2.10\n"
    )
    with ZoneServer(broken) as dns:
        result = doctor(folder(tmp_path, dkim_domain="mailer.example.net"), dns, "--no-relay")
    assert result.exit_code == 1
    errors = lines(result, "error")
    assert errors[0] == ("error: spf: the SPF record for charity-news.org.uk ends in +all: anyone may send as "
                         "charity-news.org.uk (end it with -all (or ~all) after the senders you use)")
    assert errors[1] == ("error: dmarc: the DMARC record at _dmarc.charity-news.org.uk is not valid: v=DMARC1; p=maybe "
                         '(start it "v=DMARC1; p=none;" (p is none, quarantine or reject))')
    assert errors[2].startswith("error: dkim: no DKIM record at news._domainkey.mailer.example.net")
    assert errors[3] == ("error: alignment: DKIM d=mailer.example.net does not align with From charity-news.org.uk "
                         "(sign with dkim.domain: charity-news.org.uk)")
    assert len(errors) == 4


def test_a_key_that_does_not_match_two_spf_records_and_the_lookup_limit(tmp_path: Path) -> None:
    zone = (txt("charity-news.org.uk", "v=spf1 ip4:192.0.2.10 -all") + txt("charity-news.org.uk", "v=spf1 mx -all")
            + txt("news._domainkey.charity-news.org.uk", public_key_record(OTHER_KEY))
            + txt("_dmarc.charity-news.org.uk", "v=DMARC1; p=none"))
    with ZoneServer(zone) as dns:
        config = folder(tmp_path)
        result = doctor(config, dns, "--no-relay")
        assert "error: spf: 2 SPF records for charity-news.org.uk; receivers treat that as no SPF (merge them into " \
               "one TXT record starting v=spf1)" in lines(result, "error")
        assert "error: dkim: the key published at news._domainkey.charity-news.org.uk is not the public half of the " \
               "configured key (publish the record for this key again, or point dkim.key_file at the matching " \
               "key)" in lines(result, "error")
        assert "error: relay: smtp.host: relay.charity-news.org.uk does not resolve in DNS (check the relay's host " \
               "name)" in lines(result, "error")
        includes = " ".join(f"include:s{i}.charity-news.org.uk" for i in range(11))
        dns.set_zone(txt("charity-news.org.uk", f"v=spf1 {includes} -all")
                     + "".join(txt(f"s{i}.charity-news.org.uk", "v=spf1 -all") for i in range(11)))
        result = doctor(config, dns, "--no-relay")
    assert [line for line in lines(result, "error") if line.startswith("error: spf")] == [
        "error: spf: the SPF record for charity-news.org.uk cannot be evaluated: SPF Permanent Error: Too many DNS "
        "lookups (SPF allows at most 10 DNS lookups (include, a, mx, ptr, exists, redirect); remove includes "
        "you no longer use)"]


def test_the_relay_is_logged_in_to_without_sending(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCTOR_SMTP_PASSWORD", "s3cret")
    with ZoneServer(GOOD) as dns, SmtpServer(tls_context=self_signed_tls(tmp_path), users={"digest": "s3cret"}) as relay:
        smtp = (f"{{host: 127.0.0.1, port: {relay.port}, security: starttls, username: digest, "
                "password_env: DOCTOR_SMTP_PASSWORD}")
        config = folder(tmp_path, smtp=smtp)
        result = doctor(config, dns)
        assert result.exit_code == 0, result.output
        assert (f"ok: relay: 127.0.0.1:{relay.port} (starttls): connected, EHLO, STARTTLS, AUTH as digest; "
                "no message sent") in lines(result, "ok")
        monkeypatch.setenv("DOCTOR_SMTP_PASSWORD", "wrong")
        result = doctor(config, dns)
    assert result.exit_code == 1
    [refused] = lines(result, "error")
    assert refused.startswith("error: relay: smtp.password_env: 127.0.0.1 refused the login for digest: 535")
    assert relay.handler.messages == []  # logged in, never sent
    assert relay.handler.logins and all(over_tls for _, over_tls in relay.handler.logins)


def test_online_probe_reaches_the_site_and_unsubscribes_nobody(tmp_path: Path) -> None:
    config_path = folder(tmp_path)
    config = load_config(config_path)
    with serve_asgi(create_app(config)) as base, ZoneServer(GOOD) as dns:
        text = config_path.read_text().replace("https://charity-news.org.uk/unsubscribe", f"{base}/unsubscribe")
        config_path.write_text(text)
        result = doctor(config_path, dns, "--no-relay", "--online")
    assert lines(result, "ok")[-2:] == [
        f"ok: unsubscribe: GET {base}/unsubscribe answers 200",
        "ok: unsubscribe: one-click POST accepted the probe token (same token secret); nobody was unsubscribed",
    ]
    assert lines(result, "error") == [f"error: unsubscribe: unsubscribe.url is not https: {base}/unsubscribe "
                                      "(Gmail and Yahoo want one-click unsubscribe over https; serve it behind TLS)"]
    db = journal.connect(config.state)
    assert journal.list_suppressions(db) == []
    db.close()


def test_a_site_with_another_secret_refuses_the_probe(tmp_path: Path) -> None:
    config_path = folder(tmp_path)
    config = load_config(config_path)
    with serve_asgi(create_app(config, keys=[b"another-secret"])) as base, ZoneServer(GOOD) as dns:
        config_path.write_text(config_path.read_text().replace("https://charity-news.org.uk/unsubscribe",
                                                               f"{base}/unsubscribe"))
        result = doctor(config_path, dns, "--no-relay", "--online")
    assert ("error: unsubscribe: one-click POST refused the probe token (400) (the server must use the same token "
            "secret as `send`: copy .newsletter-secret or set the same NEWSLETTER_TOKEN_SECRET there)"
            ) in lines(result, "error")


def test_the_site_answers_the_probe_token_without_writing(tmp_path: Path) -> None:
    config = load_config(folder(tmp_path))
    client = TestClient(create_app(config))
    token = make_token(token_keys(config)[0], config.list_id, PROBE_ADDRESS)
    answer = client.post(f"/unsubscribe?t={token}", data={"List-Unsubscribe": "One-Click"})
    assert (answer.status_code, answer.headers["X-Newsletter-Probe"]) == (200, "ok")
    db = journal.connect(config.state)
    assert journal.list_suppressions(db) == []
    db.close()


def test_online_doctor_checks_the_counted_link_route_when_tracking_is_on(tmp_path: Path) -> None:
    config_path = folder(tmp_path)
    config_path.write_text(config_path.read_text() + "tracking: {clicks: true}\n")
    config = load_config(config_path)
    with serve_asgi(create_app(config)) as base, ZoneServer(GOOD) as dns:
        config_path.write_text(re_point(config_path.read_text(), base))
        result = doctor(config_path, dns, "--no-relay", "--online")
        wrong = create_app(config, keys=[b"another-secret"])
    assert ("ok: tracking: the site answers counted links (/r/) with a redirect (same token secret); "
            "a HEAD is never counted") in lines(result, "ok")
    with serve_asgi(wrong) as base, ZoneServer(GOOD) as dns:
        config_path.write_text(re_point(config_path.read_text(), base))
        result = doctor(config_path, dns, "--no-relay", "--online")
    assert any(line.startswith("error: tracking: the site answers a counted link (/r/) with 404")
               for line in lines(result, "error"))
    db = journal.connect(config.state)
    assert journal.click_counts(db, "doctor-probe") == {}
    db.close()


def re_point(text: str, base: str) -> str:
    """The config's unsubscribe.url moved to the server at `base`."""
    return re.sub(r"unsubscribe: \{url: '[^']+'", f"unsubscribe: {{url: '{base}/unsubscribe'", text)
