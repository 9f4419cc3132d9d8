"""Sign-up timing benchmark: can an attacker tell a member from a stranger by the clock?

Serves the subscriber site under uvicorn exactly as `newsletter serve` does (the same
limits, the embedded outbox, so confirmation mails really go) and signs up, in random
order, addresses already on the list (members) and new ones (strangers, each of which
makes the background sender compose and deliver a mail). For each it times the POST and,
as the attack in issue 28 did, a second request sent right after it (`/healthz`). Then
it plays the attacker: the best single threshold on each timing, and how many addresses
it classifies correctly (50% is a coin toss; "noise" is the same attacker told apart two
random halves of all the timings, the score of a difference that is not there). Run: `python bench/bench_signup.py`
(`--n 200` per group). Prints one table.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from newsletter import journal
from newsletter.config import load_config
from newsletter.site import create_app, server_config
from newsletter.tokens import make_stamp

REPO = Path(__file__).resolve().parent.parent
SECRET = "bench-signup-secret"


def _project(root: Path) -> Path:
    shutil.copy(REPO / "newsletter.yaml", root / "newsletter.yaml")
    shutil.copytree(REPO / "items", root / "items")
    config = root / "newsletter.yaml"
    config.write_text(config.read_text(encoding="utf-8") + 'subscribe: {url: "https://example.org/subscribe", '
                      "client_limit: 100000, hourly_limit: 100000, min_seconds: 0.001}\n", encoding="utf-8")
    return config


def _best_threshold(members: list[float], strangers: list[float]) -> float:
    """The attacker's accuracy with the best single threshold (either direction)."""
    labelled = sorted([(t, 0) for t in members] + [(t, 1) for t in strangers])
    total, best = len(labelled), 0
    strangers_below = 0
    for i, (_, label) in enumerate(labelled, start=1):
        strangers_below += label
        members_below = i - strangers_below
        # "below the threshold = member": members below + strangers above
        right = members_below + (len(strangers) - strangers_below)
        best = max(best, right, total - right)
    return best / total


def _noise(pooled: list[float]) -> float:
    """The same attacker on two random halves of one pool: what "within noise" means here."""
    shuffled = pooled[:]
    random.Random(15).shuffle(shuffled)
    half = len(shuffled) // 2
    return _best_threshold(shuffled[:half], shuffled[half:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=150, help="addresses per group (members, strangers)")
    args = parser.parse_args()
    import os

    os.environ["NEWSLETTER_TOKEN_SECRET"] = SECRET
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(_project(Path(tmp)))
        db = journal.connect(config.state)
        members = [f"member{i}@example.org" for i in range(args.n)]
        for email in members:
            request = journal.add_request(db, email=email, mailbox=email, name="", themes=None, source="page",
                                          consent="")
            journal.set_request_mail(db, request.id, "sent")
            journal.confirm_request(db, email, request.nonce)
        strangers = [f"stranger{i}@example.org" for i in range(args.n)]
        app = create_app(config)
        server = uvicorn.Server(server_config(app, host="127.0.0.1", port=0, log_level="warning",
                                              access_log=False, lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        order = [(e, "member") for e in members] + [(e, "stranger") for e in strangers]
        random.Random(28).shuffle(order)
        timings: dict[str, dict[str, list[float]]] = {"member": {"post": [], "next": []},
                                                       "stranger": {"post": [], "next": []}}
        shown = int(time.time()) - 60
        with httpx.Client(base_url=base) as client:
            for i, (email, kind) in enumerate(order):
                stamp = make_stamp(SECRET.encode(), config.list_id, shown - i)
                start = time.perf_counter()
                answer = client.post("/subscribe", data={"email": email, "stamp": stamp})
                middle = time.perf_counter()
                client.get("/healthz")
                end = time.perf_counter()
                assert "Check your inbox" in answer.text
                timings[kind]["post"].append((middle - start) * 1000)
                timings[kind]["next"].append((end - middle) * 1000)
                time.sleep(0.005)
        assert app.state.site.mailer.wait_idle(120)
        mailed = len(list((config.outbox_dir / "new").iterdir()))
        server.should_exit = True
        thread.join(10)
    print(f"{args.n} members, {args.n} strangers; {mailed} confirmation mails sent (one per stranger)")
    print(f"{'timing':<22}{'member median':>15}{'stranger median':>17}{'member p90':>12}{'stranger p90':>14}"
          f"{'attacker':>10}{'noise':>8}")
    for what, label in (("post", "the sign-up POST"), ("next", "a request right after")):
        m, s = timings["member"][what], timings["stranger"][what]
        print(f"{label:<22}{statistics.median(m):>12.2f} ms{statistics.median(s):>14.2f} ms"
              f"{statistics.quantiles(m, n=10)[-1]:>9.2f} ms{statistics.quantiles(s, n=10)[-1]:>11.2f} ms"
              f"{_best_threshold(m, s):>9.0%}{_noise(m + s):>8.0%}")


if __name__ == "__main__":
    main()
