"""The queue's first screen in the browser with 1,000 open referrals on `mash up`.

Run: .venv/bin/python bench/web_queue.py [--referrals 1000] [--rounds 7] [--imported 50000]

Starts `mash up` with a fresh data dir, posts N referrals (distinct children) through
the API as the demo police system, signs the demo practitioner in (a real TOTP code) in
Debian's Chromium driven by Playwright, then measures, per round, in a new page:

- queue: wall time from navigating to /#/queue until the queue table has rendered its
  rows (the client's [data-queue-ready] marker): HTML, CSS, the JavaScript modules, the
  session check, the API's first page of the queue (50 most urgent), the codes list,
  and building the DOM;
- baseline: the same first screen saved as a static HTML page (scripts removed, the same
  stylesheet) served by a plain Python HTTP server on 127.0.0.1, navigated to and waited
  for in the same way, in the same browser, interleaved round by round.

It prints the medians, the ratio queue / baseline, and the API's own time for the first
page (GET /api/v1/referrals/queue, median of the rounds, by httpx with the same cookie)
beside that of the plain newest-first list (GET /api/v1/referrals?limit=50).
Every loop is bounded; all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pyotp
from _common import ROOT, clean_environment, free_port, mash_command, run_load, start, wait_ready

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-sync"]


# When, after the navigation started, each step of the queue's first screen finished.
PHASES = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const done = (part) => {
    const found = performance.getEntriesByType("resource").find((e) => e.name.includes(part));
    return found ? found.responseEnd : null;
  };
  return {html: nav.responseEnd, modules_run: nav.domContentLoadedEventEnd,
          session_checked: done("/api/v1/me"), queue_api: done("/api/v1/referrals/queue"),
          codes: done("/codes.json"), rendered: performance.now()};
}"""


def partner_token(base: str, credentials: dict) -> str:
    client = credentials["clients"][0]
    response = httpx.post(f"{base}/oauth2/token", data={"grant_type": "client_credentials"},
                          auth=(client["client_id"], client["client_secret"]), timeout=10)
    response.raise_for_status()
    return str(response.json()["access_token"])


def static_server(directory: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    port = free_port()
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, port


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--imported", type=int, default=0,
                        help="also bring in this many synthetic referrals with `mash import` "
                             "first (the bulk path: 50,000 in minutes, not the API's hour)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="mash-bench-web-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        hub = start("hub", [*mash_command(), "up", "--port", str(port), "--data-dir",
                            str(workdir / "data")], workdir, clean_environment())
        try:
            wait_ready(hub, f"{base}/readyz", timeout=90)
            credentials = json.loads((workdir / "data" / "demo" / "credentials.json").read_text())
            if args.imported:
                import subprocess

                from import_rate import synthetic_lines

                lines = workdir / "legacy.ndjson"
                synthetic_lines(lines, args.imported)
                police = next(a["id"] for a in credentials["agencies"] if a["kind"] == "police")
                subprocess.run([*mash_command(), "import", str(lines), "--agency", police,
                                "--data-dir", str(workdir / "data")], check=True,
                               stdout=subprocess.DEVNULL, env=clean_environment())
            loaded = run_load(port, args.referrals, 4, "WEBQ", partner_token(base, credentials),
                              workdir, children="distinct")
            assert loaded["statuses"].get("201") == args.referrals, loaded["statuses"]
            user = next(u for u in credentials["users"] if u["username"] == "mash.practitioner")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
                context = browser.new_context(base_url=base,
                                              viewport={"width": 1280, "height": 900})
                signed_in = context.request.post(f"{base}/api/v1/sessions", data={
                    "username": user["username"], "password": user["password"],
                    "otp": pyotp.TOTP(user["totp_secret"]).now()})
                assert signed_in.ok, signed_in.text()
                cookie = {c["name"]: c["value"] for c in context.cookies()}

                # The baseline page: the queue's first screen as static HTML.
                page = context.new_page()
                page.goto("/#/queue")
                page.wait_for_selector("[data-queue-ready='50']")
                rows = page.locator("tr.queue-row").count()
                static_dir = workdir / "static"
                static_dir.mkdir()
                html = page.content()
                html = html.replace('<script type="module" src="/js/app.js"></script>', "")
                html = html.replace('data-queue-ready="50"', 'data-static-ready="50"')
                (static_dir / "index.html").write_text(html)
                (static_dir / "styles.css").write_text((ROOT / "web" / "styles.css").read_text())
                (static_dir / "favicon.svg").write_text((ROOT / "web" / "favicon.svg").read_text())
                page.close()
                server, static_port = static_server(static_dir)

                queue_times, static_times, api_times, list_times = [], [], [], []
                phases: dict[str, list[float]] = {}
                for _ in range(args.rounds):
                    page = context.new_page()
                    started = time.perf_counter()
                    page.goto(f"http://127.0.0.1:{static_port}/index.html")
                    page.wait_for_selector("[data-static-ready='50']")
                    static_times.append(time.perf_counter() - started)
                    page.close()

                    page = context.new_page()
                    started = time.perf_counter()
                    page.goto(f"{base}/#/queue")
                    page.wait_for_selector("[data-queue-ready='50']")
                    queue_times.append(time.perf_counter() - started)
                    for name, at in page.evaluate(PHASES).items():
                        phases.setdefault(name, []).append(at)
                    page.close()

                    started = time.perf_counter()
                    answer = httpx.get(f"{base}/api/v1/referrals/queue", cookies=cookie, timeout=10)
                    api_times.append(time.perf_counter() - started)
                    assert answer.status_code == 200 and len(answer.json()["items"]) == 50
                    started = time.perf_counter()
                    listed = httpx.get(f"{base}/api/v1/referrals?limit=50", cookies=cookie,
                                       timeout=10)
                    list_times.append(time.perf_counter() - started)
                    assert listed.status_code == 200 and len(listed.json()["items"]) == 50
                server.shutdown()
                browser.close()
        finally:
            hub.stop()

    queue, static = statistics.median(queue_times), statistics.median(static_times)
    print(json.dumps({
        "open_referrals": args.referrals + args.imported, "rows_on_first_screen": rows,
        "rounds": args.rounds,
        "queue_first_screen_ms": round(queue * 1000, 1),
        "static_page_ms": round(static * 1000, 1),
        "api_first_page_ms": round(statistics.median(api_times) * 1000, 1),
        "api_newest_first_list_ms": round(statistics.median(list_times) * 1000, 1),
        "queue_ms_each": [round(t * 1000) for t in queue_times],
        "queue_phases_ms_after_navigation_start": {
            name: round(statistics.median(values), 1) for name, values in phases.items()},
        "ratio_queue_to_static": round(queue / static, 2),
    }, indent=2))


if __name__ == "__main__":
    main()
