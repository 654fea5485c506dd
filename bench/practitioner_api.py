"""The practitioner's day at scale: the queue's first page, a person search and a referral
page with N referrals in `mash up`, each timed beside GET /api/v1/me in the same run.

Run: .venv/bin/python bench/practitioner_api.py [--referrals 50000] [--rounds 300]

Starts `mash up` with a fresh data dir, posts N referrals (each about a distinct child of
the person index's synthetic population, with a parent) through the API as the demo
police system, in chunks, then signs the demo practitioner in and, round by round,
interleaved, sends over one keep-alive connection:

- baseline: GET /api/v1/me (the session check every page makes: authentication, one
  identity read);
- queue: GET /api/v1/referrals/queue (the first page: 50 most urgent, with children,
  requests, the exact total);
- search: GET /api/v1/people?q=<given family> for a child loaded (a different one each
  round, from the newest referrals' children);
- referral: GET /api/v1/referrals/{id} (the full record with chronology and matches).

It prints the median and p99 of each, and each one's p99 / baseline p99. Every loop is
bounded; all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import pyotp
from _common import (
    clean_environment,
    free_port,
    mash_command,
    percentile,
    run_load,
    start,
    wait_ready,
)

CHUNK = 5000  # referrals per load-generator run (each run is bounded at 10 minutes)


def partner_token(base: str, credentials: dict) -> str:
    client = next(c for c in credentials["clients"]
                  if c["client_id"] == "northshire-police-system")
    response = httpx.post(f"{base}/oauth2/token", data={"grant_type": "client_credentials"},
                          auth=(client["client_id"], client["client_secret"]), timeout=10)
    response.raise_for_status()
    return str(response.json()["access_token"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mash-bench-day-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        hub = start("hub", [*mash_command(), "up", "--port", str(port), "--data-dir",
                            str(workdir / "data")], workdir, clean_environment())
        try:
            wait_ready(hub, f"{base}/readyz", timeout=90)
            credentials = json.loads((workdir / "data" / "demo" / "credentials.json").read_text())
            loading = time.perf_counter()
            loaded = 0
            while loaded < args.referrals:
                count = min(CHUNK, args.referrals - loaded)
                result = run_load(port, count, 4, f"DAY{loaded}",
                                  partner_token(base, credentials), workdir, children="distinct")
                assert result["statuses"].get("201") == count, result["statuses"]
                loaded += count
            load_seconds = time.perf_counter() - loading
            user = next(u for u in credentials["users"] if u["username"] == "mash.practitioner")
            times: dict[str, list[float]] = {"me": [], "queue": [], "search": [], "referral": []}
            with httpx.Client(base_url=base, timeout=30) as client:
                signed_in = client.post("/api/v1/sessions", json={
                    "username": user["username"], "password": user["password"],
                    "otp": pyotp.TOTP(user["totp_secret"]).now()})
                assert signed_in.status_code == 200, signed_in.text
                newest = client.get("/api/v1/referrals", params={"limit": 200}).json()["items"]
                referral_ids = [item["id"] for item in newest]
                names = [f"{c['given_name']} {c['family_name']}" for item in newest
                         for c in item["children"] if c["given_name"] and c["family_name"]]
                first = client.get("/api/v1/referrals/queue").json()
                # A child still waiting for a match review has no person yet: search for
                # those the index has linked (the share found is printed).
                findable = [n for n in names[:100]
                            if client.get("/api/v1/people", params={"q": n}).json()["items"]]
                assert findable, names[:5]
                found_share = len(findable) / min(len(names), 100)
                names = findable

                def timed(name: str, path: str, **params: str) -> None:
                    started = time.perf_counter()
                    answer = client.get(path, params=params)
                    times[name].append(time.perf_counter() - started)
                    assert answer.status_code == 200, (path, answer.status_code)

                for i in range(args.rounds):
                    timed("me", "/api/v1/me")
                    timed("queue", "/api/v1/referrals/queue")
                    timed("search", "/api/v1/people", q=names[i % len(names)])
                    timed("referral", f"/api/v1/referrals/{referral_ids[i % len(referral_ids)]}")
        finally:
            hub.stop()

    p99 = {name: percentile(sorted(values), 99) for name, values in times.items()}
    print(json.dumps({
        "referrals": args.referrals, "rounds": args.rounds,
        "load_seconds": round(load_seconds), "queue_total": first["total"],
        "queue_first_page_items": len(first["items"]),
        "names_found_share": round(found_share, 2),
        "median_ms": {n: round(statistics.median(v) * 1000, 1) for n, v in times.items()},
        "p99_ms": {n: round(v * 1000, 1) for n, v in p99.items()},
        "p99_ratio_to_me": {n: round(v / p99["me"], 2) for n, v in p99.items() if n != "me"},
    }, indent=2))


if __name__ == "__main__":
    main()
