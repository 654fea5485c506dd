"""Hub to hub: from hub A's referral committing to hub B holding the notice, next to A's
own webhook delivery of the same referral to a partner, in the same run.

Run: .venv/bin/python bench/peer_hubs.py [--referrals 50]   (~1 min)

Two `mash up` processes (SQLite, in-process broker) on their own ports and data
directories, paired as tests/two_hubs.py pairs them (each a peer hub of the other, each
the other's private_key_jwt partner system). A's demo police system subscribes a webhook
receiver (in this process, on 127.0.0.1) to `mash.referral.received`, then posts
referrals one at a time about a child placed by A (LA 372) in B's area (LA 373). For
each, from the POST's 201 (sent after A's commit) to:

- hub: B's referral database holding the notification (B's `referrals` row with A's
  reference as external_reference, polled every 2 ms, read-only);
- baseline: A's webhook for the same referral reaching the receiver (notify's
  dispatcher, the same outbox and broker).

It prints p50/p99 of each and the ratio hub/baseline. The notice's path is longer by
design: A's outbox -> A's own consumer writes the notice -> A's sender gets a token from B
(cached for its lifetime) -> B's intake (validation, matching, its own commit).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.bodies import referral_body  # noqa: E402
from tests.two_hubs import new_hub, pair  # noqa: E402

PLACED = {"placing_la_code": "372", "host_la_code": "373"}


class Arrivals:
    """When each referral's webhook reached the receiver (perf_counter)."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        arrivals = self

        class Hook(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                arrived = time.perf_counter()
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()
                referral_id = str(json.loads(body).get("data", {}).get("referral_id"))
                with arrivals.lock:
                    arrivals.at.setdefault(referral_id, arrived)

            def log_message(self, *args: Any) -> None:
                pass

        return Hook


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q``th percentile (as bench/_common.py's)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def held_by_b(database: Path, reference: str) -> bool:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as conn:
        return conn.execute("SELECT 1 FROM referrals WHERE external_reference = ?",
                            (reference,)).fetchone() is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=50)
    args = parser.parse_args()
    arrivals = Arrivals()
    server = ThreadingHTTPServer(("127.0.0.1", 0), arrivals.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{server.server_address[1]}/hooks/mash"
    with tempfile.TemporaryDirectory(prefix="mash-peers-") as workdir:
        a = new_hub(Path(workdir), "Rotherham MASH", "372")
        b = new_hub(Path(workdir), "Doncaster MASH", "373")
        a.start()
        b.start()
        try:
            pair(a, b)
            token = a.police_token()
            client = httpx.Client(base_url=a.url, timeout=30,
                                  headers={"authorization": f"Bearer {token}"})
            client.post("/api/v1/subscriptions", json={
                "channel": "webhook", "url": hook_url,
                "event_types": ["mash.referral.received"]}).raise_for_status()
            to_b: list[float] = []
            hook: list[float] = []
            for n in range(args.referrals + 3):  # the first 3 warm up (token, caches)
                body = referral_body(external_reference=f"BENCH-{n:06d}", subjects=[{
                    **referral_body()["subjects"][0], "looked_after": PLACED}])
                response = client.post("/api/v1/referrals", json=body)
                answered = time.perf_counter()
                response.raise_for_status()
                receipt = response.json()
                seen_b = None
                deadline = answered + 30
                while time.perf_counter() < deadline:
                    if seen_b is None and held_by_b(b.data_dir / "referral.db",
                                                    receipt["reference"]):
                        seen_b = time.perf_counter()
                    if seen_b is not None and receipt["id"] in arrivals.at:
                        break
                    time.sleep(0.002)
                if seen_b is None or receipt["id"] not in arrivals.at:
                    raise SystemExit(f"referral {n}: not delivered within 30 s")
                if n >= 3:
                    to_b.append(seen_b - answered)
                    hook.append(arrivals.at[receipt["id"]] - answered)
            client.close()
        finally:
            b.close()
            a.close()
            server.shutdown()
    hub50, hub99 = percentile(to_b, 50) * 1000, percentile(to_b, 99) * 1000
    base50, base99 = percentile(hook, 50) * 1000, percentile(hook, 99) * 1000
    print(f"\n{args.referrals} referrals, one at a time, `mash up` x 2 (SQLite, in-process "
          "broker)")
    print("| measure | p50 ms | p99 ms |\n|---|---|---|")
    print(f"| A's referral 201 -> B holds the notice (hub) | {hub50:.1f} | {hub99:.1f} |")
    print(f"| A's referral 201 -> A's webhook received (baseline) | {base50:.1f} | "
          f"{base99:.1f} |")
    print(f"| ratio hub/baseline | {hub50 / base50:.2f} | {hub99 / base99:.2f} |")


if __name__ == "__main__":
    main()
