"""Send benchmark: a ~60 KB issue to 10,000 (and, with --large, 100,000) generated recipients.

Everything goes into Postfix's `smtp-sink` on 127.0.0.1 over 16 connections (Debian
package `postfix`; this script installs it if missing, no Postfix daemon needed). Beside
`newsletter send` it measures, in the same run, into the same sink:

- `smtp-source`: Postfix's C load generator, the ceiling for this sink and machine;
- bare aiosmtplib: `SMTP.sendmail()` of one prebuilt message over and over;
- pool, prebuilt: newsletter's own delivery pool (deliver.py) sending one prebuilt
  message over and over, so `tool / pool` is the cost of the tool's own work
  (personalising, the journal, the rate limiter, the progress bar);
- `newsletter send` + DKIM: the same send from a copy of the project whose config has a
  `dkim:` block with a fresh 2048-bit key (`newsletter dkim keygen`), so every message is
  signed; the difference to `newsletter send` is the cost of signing.

For each: messages per second, sender CPU per message and the sender's peak memory.
Each contender runs in its own process (`--child`), so CPU and peak RSS are its own.

Greylisting (`--greylist`, issue 13): `newsletter send` into a relay (aiosmtpd in its own
process, `--relay`) that answers 451 4.7.1 to the first RCPT of 10% of the addresses and
accepts everything else, against the same relay with no refusals. A greylisted recipient
waits for its own retry (`smtp.retry_delay`, 2 s) while everyone else goes on at full pace,
so the goal is to deliver everyone within 15% of the clean send's time. Needs no Postfix.

Run: `python bench/bench_send.py` (10,000), `--large` (also 100,000, about 8 minutes),
`--repeat N` (each contender N times, interleaved, the best run counts: the figures are
noisy on a shared machine), `--connections N`, `--recipients N`. Results also go to
bench/results/send.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
THEMES = ["Domestic abuse", "Child sexual exploitation", "Online safety", "Neglect", "Youth violence",
          "Information sharing"]
SUMMARY = ("{source} has published a {kind} on how services respond to children at risk. Drawing on "
           "case reviews and interviews with practitioners, it finds that **early help** is often "
           "offered too late, and that information is not always shared between agencies. It sets out "
           "what helps: clear roles, time for supervision, and listening to the child. Item {n}.")
SINK_BACKLOG = "1000"


# --- setup ---------------------------------------------------------------------------


def postfix_tool(name: str) -> str:
    """The path of smtp-sink/smtp-source, installing Debian's postfix package if needed."""
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if found:
        return found
    print(f"{name} not found: installing the postfix package (apt-get) ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["debconf-set-selections"], input=b"postfix postfix/main_mailer_type select No configuration\n",
                   check=False, env=env)
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "postfix"], check=True, env=env)
    return f"/usr/sbin/{name}"


def write_items(root: Path, items: int) -> None:
    """The sample config and `items` generated July items (a 60 KB message at 32)."""
    (root / "items").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "newsletter.yaml", root / "newsletter.yaml")
    for n in range(items):
        item = {
            "title": f"Learning from case reviews: report {n} on practice with families",
            "date": f"2023-07-{1 + n % 31:02d}",
            "source": ["NSPCC Learning", "DfE", "Ofsted", "Research in Practice"][n % 4],
            "theme": THEMES[n % len(THEMES)],
            "summary": SUMMARY.format(source="Research in Practice", kind=["briefing", "report"][n % 2], n=n),
            "links": [{"label": "Read the report", "title": f"Case review report {n}",
                       "url": f"https://example.org/reports/{n}"}],
            "see_also": [{"title": "Protecting children", "url": f"https://example.org/topics/{n}"}],
        }
        if n % 4 == 0:
            item["image"] = {"src": f"https://example.org/img/{n}.jpg", "alt": "Practitioners in a meeting"}
        (root / "items" / f"item-{n:04d}.yaml").write_text(yaml.safe_dump(item, sort_keys=False))


def make_project(root: Path, items: int, recipients: int) -> Path:
    """The generated items and a CSV of `recipients` subscribers."""
    write_items(root, items)
    with open(root / "subscribers.csv", "w", encoding="utf-8") as fh:
        fh.write("email,name\n")
        fh.writelines(f"reader{i}@example{i % 97}.org,Reader Number {i}\n" for i in range(recipients))
    return root / "newsletter.yaml"


def make_dkim_project(plain: Path, root: Path) -> Path:
    """A copy of the `plain` project signing with a fresh 2048-bit key; nothing else differs."""
    shutil.copytree(plain, root)
    subprocess.run([sys.executable, "-m", "newsletter", "dkim", "keygen", "--selector", "bench",
                    "--domain", "example.org", "--out", str(root / "dkim-bench.key")],
                   check=True, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO)})
    with open(root / "newsletter.yaml", "a", encoding="utf-8") as fh:
        fh.write("\ndkim:\n  domain: example.org\n  selector: bench\n  key_file: dkim-bench.key\n")
    return root / "newsletter.yaml"


def start_sink(port: int, *extra: str) -> subprocess.Popen[bytes]:
    """smtp-sink on 127.0.0.1:port; `-p` in `extra` stops it offering PIPELINING."""
    args = [postfix_tool("smtp-sink"), *extra]
    if os.geteuid() == 0:
        args += ["-u", "nobody"]
    args += [f"127.0.0.1:{port}", SINK_BACKLOG]
    sink = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, sink)
    return sink


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        try:
            with __import__("socket").create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"nothing listens on {port}")


# --- a link with latency: a TCP proxy on 127.0.0.1 that delays each direction -------------


async def _delayed_pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Forward bytes `delay` seconds late, in order, as a long link would."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def forward() -> None:
        while True:
            due, data = await queue.get()
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            if not data:
                break
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.ensure_future(forward())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((loop.time() + delay, data))
    except OSError:
        pass
    queue.put_nowait((loop.time() + delay, b""))
    try:
        await sender
    except OSError:
        pass


def run_proxy(listen: int, target: int, delay: float) -> None:
    """127.0.0.1:listen -> 127.0.0.1:target, adding `delay` seconds each way (a child process)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(_delayed_pipe(reader, up_writer, delay), _delayed_pipe(up_reader, writer, delay))

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", listen, backlog=1000)
        await server.serve_forever()

    asyncio.run(serve())


def start_proxy(listen: int, target: int, delay: float) -> subprocess.Popen[bytes]:
    proxy = subprocess.Popen([sys.executable, __file__, "--proxy", str(listen), str(target), str(delay)])
    wait_for_port(listen, proxy)
    return proxy


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- contenders (each in its own process) -------------------------------------------------


def run_child(kind: str, project: Path, port: int, recipients: int, connections: int) -> dict[str, Any]:
    """Run one contender in a fresh interpreter; it prints one JSON line of measurements."""
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--project", str(project), "--port",
                          str(port), "--recipients", str(recipients), "--connections", str(connections)],
                         capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(REPO)})
    if out.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rsa_sign_seconds() -> float | None:
    """One RSA-2048 signature, from `openssl speed` (the yardstick for what signing may add)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    out = subprocess.run([openssl, "speed", "-seconds", "3", "rsa2048"], capture_output=True, text=True,
                         check=False).stdout
    for line in out.splitlines():
        if line.startswith("rsa 2048 bits"):
            return float(line.split()[3].rstrip("s"))
    return None


def run_smtp_source(port: int, recipients: int, connections: int, size: int) -> dict[str, Any]:
    started = time.perf_counter()
    process = subprocess.Popen([postfix_tool("smtp-source"), "-d", "-s", str(connections), "-m", str(recipients),
                                "-l", str(size), "-f", "digest@example.org", "-t", "reader@example.org",
                                f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"smtp-source failed: {process.stderr.read().decode() if process.stderr else status}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024,
            "messages": recipients}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _prebuilt(config_path: Path) -> tuple[Any, bytes]:
    from newsletter.config import load_config
    from newsletter.daterange import parse_range
    from newsletter.issue import Recipient, build_issue, compile_message, fill

    config = load_config(config_path)
    result = build_issue(config, parse_range("2023-07", None, None), write=False)
    template = compile_message(result.rendered, config)
    message = fill(template, config, Recipient("reader@example.org", "Reader"), token="t",
                   message_id="<bench@example.org>")
    return config, message


def child_bare(project: Path, port: int, recipients: int, connections: int) -> dict[str, Any]:
    """aiosmtplib as most code uses it: connect once per worker, `sendmail` each message."""
    import aiosmtplib

    _, message = _prebuilt(project / "newsletter.yaml")

    async def worker(count: int) -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, local_hostname="localhost")
        await smtp.connect()
        for _ in range(count):
            await smtp.sendmail("digest@example.org", ["reader@example.org"], message)
        await smtp.quit()

    async def main() -> None:
        shares = [recipients // connections + (i < recipients % connections) for i in range(connections)]
        await asyncio.gather(*(worker(n) for n in shares))

    return _timed(lambda: asyncio.run(main()), recipients, len(message))


def child_pool(project: Path, port: int, recipients: int, connections: int) -> dict[str, Any]:
    """newsletter's delivery pool sending one prebuilt message: the transport's own cost."""
    from newsletter.deliver import Job, Result, Transport, deliver

    _, message = _prebuilt(project / "newsletter.yaml")
    message = message.replace(b"\r\n.", b"\r\n..")  # dot-stuffed once, as the tool does ahead

    class Repeat:
        def __init__(self) -> None:
            self.left = recipients

        async def next_job(self) -> Job | None:
            if not self.left:
                return None
            self.left -= 1
            return Job(str(self.left), "digest@example.org", "reader@example.org", message, stuffed=True)

        def done(self, result: Result) -> None:
            assert result.status == "sent", result

    transport = Transport(host="127.0.0.1", port=port, security="none", concurrency=connections)
    return _timed(lambda: asyncio.run(deliver(Repeat(), transport)), recipients, len(message))


def child_tool(project: Path, port: int, recipients: int, connections: int) -> dict[str, Any]:
    """`newsletter send --yes --smtp-host 127.0.0.1 --smtp-port PORT`, timed after the build."""
    from newsletter import journal
    from newsletter.audience import resolve
    from newsletter.cli import send_with_progress
    from newsletter.config import load_config
    from newsletter.daterange import parse_range
    from newsletter.issue import build_issue
    from newsletter.send import prepare_send

    os.environ.setdefault("NEWSLETTER_TOKEN_SECRET", "bench-secret")
    config = load_config(project / "newsletter.yaml")
    result = build_issue(config, parse_range("2023-07", None, None))
    if config.dkim is not None:  # fail here, not silently unsigned, if signing is not set up
        from newsletter.send import load_signer

        signer = load_signer(config)
        if signer is None or b"DKIM-Signature:" not in signer(result.files["sample.eml"]):
            raise SystemExit("the DKIM project does not sign")
    before = _peak_mb()
    outcome: dict[str, Any] = {}

    def run() -> None:
        with contextlib.closing(journal.connect(config.state)) as db:
            audience = resolve(config, project / "subscribers.csv", db)
        plan = prepare_send(config, result, audience, smtp_host="127.0.0.1", smtp_port=port,
                            concurrency=connections)
        report = send_with_progress(plan)
        outcome.update(sent=report.sent, complete=report.complete)

    measured = _timed(run, recipients, len(result.files["sample.eml"]))
    if outcome.get("sent") != recipients:
        raise SystemExit(f"the tool sent {outcome.get('sent')} of {recipients}")
    return {**measured, "rss_after_build_mb": before}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(body: Any, messages: int, size: int) -> dict[str, Any]:
    """Wall time, this process's CPU, and the CPU of the processes it started and reaped (signing workers)."""
    cpu0, children0, wall0 = time.process_time(), _children_cpu(), time.perf_counter()
    body()
    return {"wall": time.perf_counter() - wall0, "cpu": time.process_time() - cpu0,
            "workers_cpu": _children_cpu() - children0, "rss_mb": _peak_mb(), "messages": messages, "size": size}


CHILDREN = {"bare": child_bare, "pool": child_pool, "tool": child_tool, "tool-dkim": child_tool}


# --- greylisting (issue 13) ------------------------------------------------------------


def serve_relay(port: int, greylist_percent: int) -> None:
    """A relay that greylists `greylist_percent`% of the addresses (451 to their first RCPT).

    Which addresses is fixed by a CRC of the address, so every run refuses the same ones.
    It keeps nothing: only the count of accepted and refused RCPTs, printed on SIGTERM.
    """
    import signal

    from aiosmtpd.smtp import SMTP, Envelope, Session

    class Greylist:
        def __init__(self) -> None:
            self.seen: set[str] = set()
            self.refused = self.accepted = 0

        async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                              options: list[str]) -> str:
            if zlib.crc32(address.encode()) % 100 < greylist_percent and address not in self.seen:
                self.seen.add(address)
                self.refused += 1
                return "451 4.7.1 Greylisted, please try again later"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            self.accepted += len(envelope.rcpt_tos)
            return "250 OK"

    handler = Greylist()
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(lambda: SMTP(handler, hostname="bench-relay"),
                                                        "127.0.0.1", port, backlog=1000))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    print("ready", flush=True)
    loop.run_forever()
    server.close()
    print(json.dumps({"accepted": handler.accepted, "refused": handler.refused}), flush=True)


def start_relay(port: int, greylist_percent: int) -> subprocess.Popen[str]:
    relay = subprocess.Popen([sys.executable, __file__, "--relay", str(greylist_percent), "--port", str(port)],
                             stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert relay.stdout is not None
    if relay.stdout.readline().strip() != "ready":
        relay.kill()
        raise SystemExit("the relay did not start")
    return relay


def stop_relay(relay: subprocess.Popen[str]) -> dict[str, int]:
    relay.terminate()
    out, _ = relay.communicate(timeout=30)
    return json.loads(out.strip().splitlines()[-1])


def bench_greylist(recipients: int, connections: int, items: int, repeat: int, percent: int) -> dict[str, Any]:
    """`newsletter send` into a clean relay and a greylisting one, interleaved; best of `repeat`."""
    runs: dict[str, list[dict[str, Any]]] = {"clean": [], "greylist": []}
    with tempfile.TemporaryDirectory(prefix="bench-greylist-") as tmp:
        project = Path(tmp) / "plain"
        make_project(project, items, recipients)
        for _ in range(repeat):
            for kind, share in (("clean", 0), ("greylist", percent)):
                for state in project.glob("newsletter.db*"):
                    state.unlink()  # a fresh run, not a resume
                port = free_port()
                relay = start_relay(port, share)
                try:
                    measured = run_child("tool", project, port, recipients, connections)
                finally:
                    counts = stop_relay(relay)
                if counts["accepted"] != recipients:
                    raise SystemExit(f"{kind}: the relay accepted {counts['accepted']} of {recipients}")
                runs[kind].append({**measured, **counts})
    results = {kind: min(found, key=lambda r: r["wall"]) for kind, found in runs.items()}
    return {"recipients": recipients, "connections": connections, "greylist_percent": percent, "repeat": repeat,
            "results": results, "all": runs}


def show_greylist(run: dict[str, Any]) -> None:
    clean, grey = run["results"]["clean"], run["results"]["greylist"]
    print(f"\n{run['recipients']:,} recipients, {run['connections']} connections, into an aiosmtpd relay, "
          f"best of {run['repeat']}")
    for label, r in (("clean relay", clean), (f"{run['greylist_percent']}% greylisted", grey)):
        print(f"{label:20}{r['wall']:8.1f} s{r['messages'] / r['wall']:9,.0f} msgs/s   "
              f"{r['refused']:,} RCPTs refused, {r['accepted']:,} delivered")
    print(f"greylisting costs {grey['wall'] / clean['wall'] - 1:+.0%} of the clean send's time (goal: within 15%)")


# --- the report ----------------------------------------------------------------------


def bench(recipients: int, connections: int, items: int, repeat: int,
          contenders: tuple[str, ...] = ("bare", "pool", "tool", "tool-dkim")) -> dict[str, Any]:
    """Each contender `repeat` times, interleaved; the best run of each counts (least disturbed)."""
    runs: dict[str, list[dict[str, Any]]] = {"smtp-source": [], **{kind: [] for kind in contenders}}
    with tempfile.TemporaryDirectory(prefix="bench-send-") as tmp:
        project = Path(tmp) / "plain"
        make_project(project, items, recipients)
        projects = {"bare": project, "pool": project, "tool": project,
                    "tool-dkim": make_dkim_project(project, Path(tmp) / "dkim").parent}
        port = free_port()
        sink = start_sink(port)
        try:
            size = run_child("pool", project, port, 200, connections)["size"]  # warm-up, and the size
            for _ in range(repeat):
                sink_before = process_cpu(sink.pid)
                runs["smtp-source"].append(run_smtp_source(port, recipients, connections, size))
                runs["smtp-source"][-1]["sink_cpu"] = process_cpu(sink.pid) - sink_before
                for kind in contenders:
                    for state in projects[kind].glob("newsletter.db*"):
                        state.unlink()  # a fresh run, not a resume
                    sink_before = process_cpu(sink.pid)
                    runs[kind].append(run_child(kind, projects[kind], port, recipients, connections))
                    runs[kind][-1]["sink_cpu"] = process_cpu(sink.pid) - sink_before
        finally:
            sink.kill()  # smtp-sink can outlive a SIGTERM
            sink.wait(10)
    results = {kind: min(found, key=lambda r: r["wall"]) for kind, found in runs.items()}
    return {"recipients": recipients, "connections": connections, "message_bytes": size, "repeat": repeat,
            "cores": len(os.sched_getaffinity(0)), "rsa_sign": rsa_sign_seconds() if "tool-dkim" in runs else None,
            "results": results, "all": runs}


def bench_latency(recipients: int, connections: int, items: int, delay: float) -> dict[str, Any]:
    """Pipelined vs not through a proxy adding `delay` each way, smtp-source through it as the yardstick.

    Two smtp-sinks, one offering PIPELINING and one not (`-p`), each behind its own proxy;
    `newsletter send` (unsigned) to each, and smtp-source (which never pipelines) to the first.
    """
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        project = Path(tmp) / "plain"
        make_project(project, items, recipients)
        ports = {name: (free_port(), free_port()) for name in ("pipelined", "unpipelined")}
        processes = [start_sink(ports["pipelined"][1]), start_sink(ports["unpipelined"][1], "-p")]
        processes += [start_proxy(listen, target, delay) for listen, target in ports.values()]
        try:
            size = run_child("pool", project, ports["pipelined"][0], 50, connections)["size"]
            results["smtp-source"] = run_smtp_source(ports["pipelined"][0], recipients, connections, size)
            for name in ("unpipelined", "pipelined"):
                for state in project.glob("newsletter.db*"):
                    state.unlink()
                results[name] = run_child("tool", project, ports[name][0], recipients, connections)
        finally:
            for process in processes:
                process.kill()
                process.wait(10)
    return {"recipients": recipients, "connections": connections, "delay": delay, "message_bytes": size,
            "results": results}


def show_latency(run: dict[str, Any]) -> None:
    results = run["results"]
    rates = {name: r["messages"] / r["wall"] for name, r in results.items()}
    print(f"\n{run['recipients']:,} recipients, {run['connections']} connections, through a proxy adding "
          f"{run['delay'] * 1000:.0f} ms each way")
    print(f"{'':32}{'msgs/s':>9}{'vs source':>11}{'CPU/msg':>10}")
    for name, label in (("smtp-source", "Postfix smtp-source"), ("unpipelined", "newsletter send, no PIPELINING"),
                        ("pipelined", "newsletter send, PIPELINING")):
        r = results[name]
        print(f"{label:32}{rates[name]:9,.0f}{rates[name] / rates['smtp-source']:10.2f}x"
              f"{r['cpu'] / r['messages'] * 1e6:8.0f}us")
    print(f"pipelined / unpipelined: {rates['pipelined'] / rates['unpipelined']:.2f}x")


def bench_big(recipients: int, connections: int, items: int) -> dict[str, Any]:
    """`newsletter send` (unsigned) to a long list into smtp-sink: time, CPU, memory per recipient."""
    with tempfile.TemporaryDirectory(prefix="bench-big-") as tmp:
        project = Path(tmp) / "plain"
        make_project(project, items, recipients)
        port = free_port()
        sink = start_sink(port)
        try:
            result = run_child("tool", project, port, recipients, connections)
        finally:
            sink.kill()  # smtp-sink can outlive a SIGTERM
            sink.wait(10)
    return {"recipients": recipients, "connections": connections, "results": {"tool": result}}


def show_big(run: dict[str, Any]) -> None:
    r = run["results"]["tool"]
    grown = (r["rss_mb"] - r["rss_after_build_mb"]) * 1024 * 1024
    print(f"\n{run['recipients']:,} recipients, {run['connections']} connections, into smtp-sink")
    print(f"time {r['wall']:,.0f} s ({r['messages'] / r['wall']:,.0f} msgs/s), CPU {r['cpu'] / r['messages'] * 1e6:.0f} "
          f"us per message, peak RSS {r['rss_mb']:.0f} MB ({r['rss_after_build_mb']:.0f} MB after the build: "
          f"{grown / run['recipients']:.0f} bytes per recipient)")


LABELS = {"smtp-source": "Postfix smtp-source", "bare": "bare aiosmtplib", "pool": "pool, prebuilt msg",
          "tool": "newsletter send", "tool-dkim": "newsletter send + DKIM"}


def show(run: dict[str, Any]) -> None:
    results = run["results"]
    source_rate = results["smtp-source"]["messages"] / results["smtp-source"]["wall"]
    cores = run.get("cores", 2)
    print(f"\n{run['recipients']:,} recipients, {run['connections']} connections, "
          f"{run['message_bytes'] / 1024:.1f} KB message, into smtp-sink on 127.0.0.1, best of {run['repeat']}")
    print(f"{'':24}{'msgs/s':>9}{'vs source':>11}{'CPU/msg':>10}{'sink/msg':>10}{'of bound':>10}{'peak RSS':>10}")
    for kind, label in LABELS.items():
        if kind not in results:
            continue
        r = results[kind]
        rate = r["messages"] / r["wall"]
        sender = (r["cpu"] + r.get("workers_cpu", 0.0)) / r["messages"]
        sink = r.get("sink_cpu", 0.0) / r["messages"]
        bound = cores / (sender + sink)  # every core busy with this sender and the sink, nothing else
        print(f"{label:24}{rate:9,.0f}{rate / source_rate:10.2f}x{sender * 1e6:8.0f}us{sink * 1e6:8.0f}us"
              f"{rate / bound:9.2f}x{r['rss_mb']:8.0f}MB")
    print(f"CPU/msg: the sender's own, signing workers included; of bound: the rate against "
          f"{cores} cores / (sender + sink CPU per message)")
    if "tool" in results and "tool-dkim" in results:
        tool, signed = results["tool"], results["tool-dkim"]
        added = ((signed["cpu"] + signed.get("workers_cpu", 0.0)) / signed["messages"]
                 - (tool["cpu"] + tool.get("workers_cpu", 0.0)) / tool["messages"])
        rsa_sign = run.get("rsa_sign")
        print(f"DKIM (2048-bit): {(signed['messages'] / signed['wall']) / (tool['messages'] / tool['wall']):.2f}x "
              f"the unsigned throughput; signing adds {added * 1e6:.0f} us of CPU per message"
              + (f", {added / rsa_sign:.2f}x one RSA-2048 signature ({rsa_sign * 1e6:.0f} us, openssl speed)"
                 if rsa_sign else ""))



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--large", action="store_true", help="also run 100,000 recipients (a few minutes)")
    parser.add_argument("--connections", default="16", help="one count or several: 4,16")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each contender; the best counts")
    parser.add_argument("--items", type=int, default=32, help="items in the issue (32: a 60 KB message)")
    parser.add_argument("--greylist", type=int, nargs="?", const=10, metavar="PERCENT",
                        help="only the greylisting contender: PERCENT (10) of addresses get 451 on first RCPT")
    parser.add_argument("--contenders", default="bare,pool,tool,tool-dkim",
                        help="besides smtp-source, which of bare,pool,tool,tool-dkim to run")
    parser.add_argument("--latency", type=int, metavar="N", help="pipelined vs not to N recipients through "
                        "a proxy adding --delay each way (instead of the sink runs)")
    parser.add_argument("--delay", type=float, default=0.02, help="seconds each way for --latency")
    parser.add_argument("--big", type=int, metavar="N", help="newsletter send to N recipients into smtp-sink: "
                        "time, CPU, memory per recipient (instead of the sink runs)")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--relay", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--project", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--proxy", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.proxy:
        run_proxy(int(args.proxy[0]), int(args.proxy[1]), float(args.proxy[2]))
        return
    if args.relay is not None:
        serve_relay(args.port, args.relay)
        return
    if args.child:
        print(json.dumps(CHILDREN[args.child](args.project, args.port, args.recipients, int(args.connections))))
        return
    counts = [int(c) for c in args.connections.split(",")]
    if args.greylist is not None:
        run = bench_greylist(args.recipients, counts[-1], args.items, args.repeat, args.greylist)
        show_greylist(run)
        out = REPO / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        (out / "send-greylist.json").write_text(json.dumps(run, indent=2) + "\n")
        return
    runs: list[dict[str, Any]] = []
    if args.latency:
        for connections in counts:
            runs.append(bench_latency(args.latency, connections, args.items, args.delay))
            show_latency(runs[-1])
        name = "latency"
    elif args.big:
        runs.append(bench_big(args.big, counts[-1], args.items))
        show_big(runs[-1])
        name = "big"
    else:
        contenders = tuple(c for c in args.contenders.split(",") if c)
        for connections in counts:
            runs.append(bench(args.recipients, connections, args.items, args.repeat, contenders))
            show(runs[-1])
        if args.large:
            runs.append(bench(100_000, counts[-1], args.items, 1, contenders))
            show(runs[-1])
        name = "send"
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(runs, indent=2) + "\n")


if __name__ == "__main__":
    main()
