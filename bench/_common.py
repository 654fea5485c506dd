"""Helpers for the HTTP benchmarks: processes, a load generator, and the baseline app.

This file is also a small command line, run as a process of its own:

    python bench/_common.py baseline --port P
        A bare FastAPI app under uvicorn (configured as `mash serve` configures it) whose
        POST /api/v1/referrals validates the body with the referral service's own
        ``ReferralCreate`` and answers 201 with a receipt, writing nothing.

    python bench/_common.py load --port P --count N --concurrency C --prefix X [--token T]
        The load generator: opens C keep-alive HTTP/1.1 connections to 127.0.0.1:P and
        sends N POST /api/v1/referrals over them (each connection sends its next request
        as soon as its previous answer is in), each with the full synthetic body of
        tests/bodies.py and its own ``external_reference`` (``X-000001``...). Bodies are
        serialised before the clock starts. --children distinct|identical gives each
        referral a child of its own (see ``referral_bodies``); --idempotency-keys sends
        an Idempotency-Key with each request, as a partner's system should. It prints
        one JSON object: requests/s, latency percentiles, status counts, its own CPU
        time. Requests/s counts 201s only; a connection the server resets counts as
        status 0 and the load goes on over a new one (the request is not sent again).
        Latencies are of every answer.

The load generator speaks HTTP/1.1 over asyncio streams itself rather than through
httpx: on a 2-core machine the client's own cost per request would otherwise be of the
order of the baseline server's, and the baseline would be measured against the client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
COMMON = Path(__file__).resolve()
PATH = "/api/v1/referrals"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def mash_command() -> list[str]:
    """The `mash` console script of this interpreter's environment, else `python -m`."""
    script = Path(sys.executable).parent / "mash"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "mash.cli"]


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without MASH_* (so the shell cannot change a result)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASH_")}
    env.update(extra)
    return env


@dataclass
class Process:
    """A process a benchmark started, its output in a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self, last: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-last:]

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process (all its threads) so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)


def start(name: str, argv: list[str], workdir: Path, env: dict[str, str] | None = None
          ) -> Process:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(argv, cwd=workdir, env=env, stdout=out,
                                 stderr=subprocess.STDOUT)
    return Process(name, popen, log)


def wait_ready(process: Process, url: str, timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers 200; raise with the process's output if it dies."""
    import httpx

    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited with {process.popen.returncode} before "
                               f"it was ready:\n{process.output()}")
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.TransportError as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    raise RuntimeError(f"{process.name} not ready within {timeout:.0f} s ({url}: {last}):\n"
                       f"{process.output()}")


def demo_session(base: str, credentials: dict[str, Any], username: str) -> str:
    """Sign a demo user in (password and TOTP from the demo credentials); the session
    cookie's value."""
    import httpx
    import pyotp

    user = next(u for u in credentials["users"] if u["username"] == username)
    answer = httpx.post(f"{base}/api/v1/sessions", timeout=30, json={
        "username": user["username"], "password": user["password"],
        "otp": pyotp.TOTP(user["totp_secret"]).now()})
    answer.raise_for_status()
    return str(answer.cookies["mash_session"])


def cpu_of(processes: list[Process]) -> float:
    return sum(p.cpu_seconds() for p in processes)


def wait_quiet(processes: list[Process], *, below: float = 0.05, window: float = 0.5,
               timeout: float = 30.0) -> float:
    """Wait until ``processes`` together use under ``below`` of a core over ``window``
    seconds (background work of the last round done); return the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = cpu_of(processes)
        time.sleep(window)
        if (cpu_of(processes) - before) / window < below:
            break
    return time.monotonic() - started


# --- the load generator ------------------------------------------------------------------


def test_nhs_numbers(start: int) -> Iterator[str]:
    """Valid NHS numbers of the 999 test range, from ``999{start:06d}`` on."""
    n = start
    while True:
        digits = f"999{n % 1_000_000:06d}"
        check = (11 - sum(int(d) * w for d, w in zip(digits, range(10, 1, -1), strict=True))
                 % 11) % 11
        if check != 10:  # 10: no valid number with these nine digits
            yield digits + str(check)
        n += 1


CHILDREN = ("one", "distinct", "identical")


def referral_bodies(count: int, prefix: str, children: str = "one") -> list[bytes]:
    """``count`` copies of the synthetic referral, each with its own external_reference.

    ``children``: "one", every referral of tests/bodies.py's one child; "distinct", each
    of a child of its own from the person index's synthetic population (names, date of
    birth, address and NHS number as varied as a real area's, some siblings), with a
    parent of the same surname as the related adult; "identical", each child with an NHS
    number of its own but the same name, date of birth and address as every other (the
    person index's worst case: every referral's subjects are candidates of all others).
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.bodies import REFERRAL

    bodies = []
    numbers = test_nhs_numbers(random.randrange(1_000_000))
    people = _population(count) if children == "distinct" else []
    for i in range(count):
        body = {**REFERRAL, "external_reference": f"{prefix}-{i:06d}"}
        child, adult = REFERRAL["subjects"]
        if children == "identical":
            body["subjects"] = [{**child, "nhs_number": next(numbers)}, adult]
        elif children == "distinct":
            body["subjects"] = _subjects_of(people[i], adult)
        bodies.append(json.dumps(body, separators=(",", ":")).encode())
    return bodies


def _population(count: int) -> list[Any]:
    from services.referral.matching.training.synthetic import population

    return population(count, seed=random.randrange(1_000_000))


def _subjects_of(child: Any, adult: dict[str, Any]) -> list[dict[str, Any]]:
    home = child.addresses[0]
    parent_name = "Sam" if child.given_name != "Sam" else "Alex"
    return [
        {"role": "child", "given_name": child.given_name, "family_name": child.family_name,
         "other_names": list(child.other_names),
         "date_of_birth": child.date_of_birth.isoformat(), "sex": child.sex,
         **({"nhs_number": child.nhs_number} if child.nhs_number else {}),
         "address": {"line1": home.line1, "postcode": home.postcode}},
        {**adult, "given_name": parent_name, "family_name": child.family_name,
         "address": {"line1": home.line1, "postcode": home.postcode}},
    ]


def http_request(port: int, body: bytes, token: str | None,
                 idempotency_key: str | None = None) -> bytes:
    head = [f"POST {PATH} HTTP/1.1", f"Host: {HOST}:{port}", "Accept: application/json",
            "Content-Type: application/json", f"Content-Length: {len(body)}"]
    if token:
        head.append(f"Authorization: Bearer {token}")
    if idempotency_key:
        head.append(f"Idempotency-Key: {idempotency_key}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, server closes the connection) of one HTTP/1.1 response."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    length: int | None = None
    chunked = close = False
    for line in head[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value
        elif name == "connection":
            close = value == "close"
    if chunked:
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await reader.readexactly(size + 2))
        await reader.readuntil(b"\r\n")
        return status, b"".join(p[:-2] for p in parts), close
    if length is None:
        return status, await reader.read(), True
    return status, await reader.readexactly(length), close


async def load(port: int, requests: list[bytes], concurrency: int) -> dict[str, Any]:
    """Send ``requests`` over ``concurrency`` keep-alive connections; the numbers."""
    pending = iter(range(len(requests)))
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    reconnects = 0

    async def connection(streams: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        nonlocal reconnects
        reader, writer = streams
        try:
            for i in pending:
                sent = time.perf_counter()
                try:
                    writer.write(requests[i])
                    status, body, close = await read_response(reader)
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    # Counted as status 0 and not sent again; a new connection goes on.
                    status, body, close = 0, type(exc).__name__.encode(), True
                latencies.append(time.perf_counter() - sent)
                statuses[status] += 1
                if status != 201 and len(failures) < 3:
                    failures.append(f"{status} {body[:300].decode(errors='replace')}")
                if close:
                    writer.close()
                    reconnects += 1
                    reader, writer = await asyncio.open_connection(HOST, port)
        finally:
            writer.close()

    connections = [await asyncio.open_connection(HOST, port) for _ in range(concurrency)]
    cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(connection(c) for c in connections))
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    latencies.sort()
    return {
        "requests": len(latencies), "seconds": seconds, "rate": statuses[201] / seconds,
        "errors": len(latencies) - statuses[201],
        "p50_ms": percentile(latencies, 50) * 1000, "p90_ms": percentile(latencies, 90) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000, "max_ms": latencies[-1] * 1000,
        "statuses": {str(k): v for k, v in sorted(statuses.items())}, "failures": failures,
        "reconnects": reconnects, "client_cpu_s": cpu,
    }


def percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank ``q``th percentile of an ascending list."""
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least 1
    return ordered[int(rank) - 1]


def run_load(port: int, count: int, concurrency: int, prefix: str, token: str | None,
             workdir: Path, *, children: str = "one",
             idempotency_keys: bool = False) -> dict[str, Any]:
    """Run the load generator as a process of its own; its JSON result."""
    argv = [sys.executable, str(COMMON), "load", "--port", str(port), "--count", str(count),
            "--concurrency", str(concurrency), "--prefix", prefix]
    if token:
        argv += ["--token", token]
    argv += ["--children", children]
    if idempotency_keys:
        argv.append("--idempotency-keys")
    done = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, timeout=600,
                          env=clean_environment())
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def unique_prefix(label: str) -> str:
    return f"BENCH-{uuid.uuid4().hex[:8]}-{label}"


# --- the baseline app --------------------------------------------------------------------


def serve_baseline(port: int) -> None:
    """Validate the referral body with ReferralCreate, write nothing, answer 201."""
    from datetime import UTC, datetime

    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import Response

    from services.referral.referrals.schemas import ReferralCreate, ReferralLinks, ReferralReceipt

    app = FastAPI(title="baseline")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    async def submit(body: ReferralCreate) -> Response:
        referral_id = str(uuid.uuid4())
        receipt = ReferralReceipt(id=referral_id, reference="MASH-2026-000001",
                                  status="received", received_at=datetime.now(UTC),
                                  links=ReferralLinks(self=f"{PATH}/{referral_id}"))
        return Response(receipt.model_dump_json(), status_code=201,
                        media_type="application/json",
                        headers={"Location": f"{PATH}/{referral_id}"})

    # This module's annotations are strings (PEP 563) and ReferralCreate is not a global
    # here: give FastAPI the classes themselves, or it would take `body` for a query.
    submit.__annotations__ = {"body": ReferralCreate, "return": Response}
    app.post(PATH, status_code=201)(submit)

    # As `mash serve` runs uvicorn: no uvicorn logging config, no uvicorn access log.
    uvicorn.run(app, host=HOST, port=port, log_config=None, access_log=False)


LIMIT_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS referrals (id TEXT PRIMARY KEY, reference TEXT NOT NULL, "
    "received_at TEXT NOT NULL, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS subjects (id TEXT PRIMARY KEY, referral_id TEXT NOT NULL, "
    "position INTEGER NOT NULL, details TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, prev_hash TEXT NOT NULL, "
    "hash TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, "
    "record_id TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, event_id TEXT UNIQUE NOT NULL, "
    "payload TEXT NOT NULL, created_at TEXT NOT NULL, sent_at TEXT)",
)


def limit_event(referral_id: str, reference: str, now: Any) -> str:
    """The limit endpoints' outbox event (CloudEvents JSON, ids only)."""
    return json.dumps({"specversion": "1.0", "id": str(uuid.uuid4()),
                       "type": "mash.referral.received", "source": "/limit",
                       "time": now.isoformat(),
                       "data": {"referral_id": referral_id, "reference": reference}})


def limit_receipt(referral_id: str, reference: str, now: Any) -> Any:
    """The limit endpoints' answer: 201 with the receipt the hub sends."""
    from fastapi.responses import Response

    from services.referral.referrals.schemas import ReferralLinks, ReferralReceipt

    receipt = ReferralReceipt(id=referral_id, reference=reference, status="received",
                              received_at=now, links=ReferralLinks(self=f"{PATH}/{referral_id}"))
    return Response(receipt.model_dump_json(), status_code=201, media_type="application/json",
                    headers={"Location": f"{PATH}/{referral_id}"})


def serve_limit_app(app: Any, submit: Any, port: int) -> None:
    """Route POST referrals to ``submit(body)`` (validated as ReferralCreate), answer
    /healthz, and serve."""
    import uvicorn
    from fastapi.responses import Response

    from services.referral.referrals.schemas import ReferralCreate

    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.get("/healthz")(healthz)
    submit.__annotations__ = {"body": ReferralCreate, "return": Response}
    app.post(PATH, status_code=201)(submit)
    uvicorn.run(app, host=HOST, port=port, log_config=None, access_log=False)


def serve_limit(port: int, database: Path) -> None:
    """The limit of intake's own work (issue 19): validate the body as the hub does
    (ReferralCreate), then write its essentials durably in one raw aiosqlite transaction
    (WAL, synchronous=NORMAL, as the hub): the referral row with its JSON body, a row per
    subject, a sha256-chained audit row (the previous hash read in the transaction) and
    an outbox row; answer 201 with a receipt. No person index, no workflow, no ORM."""
    import asyncio as aio
    import hashlib
    from datetime import UTC, datetime

    import aiosqlite
    from fastapi import FastAPI
    from fastapi.responses import Response

    from services.referral.referrals.schemas import ReferralCreate

    state: dict[str, Any] = {}
    app = FastAPI(title="limit")

    @app.on_event("startup")
    async def open_database() -> None:
        connection = await aiosqlite.connect(database, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
            await connection.execute(f"PRAGMA {pragma}")
        for statement in LIMIT_SCHEMA:
            await connection.execute(statement)
        state["db"], state["lock"], state["number"] = connection, aio.Lock(), 0

    async def submit(body: ReferralCreate) -> Response:
        referral_id, now = str(uuid.uuid4()), datetime.now(UTC)
        document = body.model_dump_json()
        db = state["db"]
        async with state["lock"]:  # one writer, as SQLite has
            await db.execute("BEGIN IMMEDIATE")
            try:
                state["number"] += 1
                reference = f"MASH-{now.year}-{state['number']:06d}"
                await db.execute("INSERT INTO referrals VALUES (?, ?, ?, ?)",
                                 (referral_id, reference, now.isoformat(), document))
                await db.executemany("INSERT INTO subjects VALUES (?, ?, ?, ?)", [
                    (str(uuid.uuid4()), referral_id, position, subject.model_dump_json())
                    for position, subject in enumerate(body.subjects)])
                cursor = await db.execute("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1")
                last = await cursor.fetchone()
                prev = last[0] if last else "0" * 64
                entry = [prev, now.isoformat(), "partner", "create", referral_id]
                digest = hashlib.sha256(json.dumps(entry).encode()).hexdigest()
                await db.execute("INSERT INTO audit (prev_hash, hash, at, actor, action, "
                                 "record_id) VALUES (?, ?, ?, ?, ?, ?)", (prev, digest, *entry[1:]))
                await db.execute("INSERT INTO outbox (event_id, payload, created_at) "
                                 "VALUES (?, ?, ?)", (str(uuid.uuid4()),
                                                      limit_event(referral_id, reference, now),
                                                      now.isoformat()))
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise
        return limit_receipt(referral_id, reference, now)

    serve_limit_app(app, submit, port)


LIMIT_SCHEMA_POSTGRES = (
    "CREATE TABLE IF NOT EXISTS referrals (id text PRIMARY KEY, reference text NOT NULL, "
    "received_at timestamptz NOT NULL, body json NOT NULL)",
    "CREATE TABLE IF NOT EXISTS subjects (id text PRIMARY KEY, "
    "referral_id text NOT NULL REFERENCES referrals, position integer NOT NULL, "
    "details json NOT NULL)",
    "CREATE TABLE IF NOT EXISTS audit (seq bigint PRIMARY KEY, prev_hash text NOT NULL, "
    "hash text NOT NULL, at timestamptz NOT NULL, actor text NOT NULL, action text NOT NULL, "
    "record_id text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS audit_head (id integer PRIMARY KEY, seq bigint NOT NULL, "
    "hash text NOT NULL)",
    "INSERT INTO audit_head VALUES (1, 0, repeat('0', 64)) ON CONFLICT DO NOTHING",
    "CREATE TABLE IF NOT EXISTS outbox (id bigserial PRIMARY KEY, event_id text UNIQUE NOT NULL, "
    "payload json NOT NULL, created_at timestamptz NOT NULL, sent_at timestamptz)",
    "CREATE SEQUENCE IF NOT EXISTS reference_numbers",
)


def serve_limit_postgres(port: int, dsn: str) -> None:
    """The limit of intake's own work in deployment mode (issue 19): ``serve_limit`` with
    raw asyncpg on PostgreSQL. Validate the body (ReferralCreate), then one transaction
    on a pooled connection (as many as the hub's engine keeps): the reference from a
    sequence, the referral row with its JSON body, a row per subject, a sha256-chained
    audit row (the chain's head row locked FOR UPDATE, so concurrent requests chain in
    turn, as the hub's audit_head does) and an outbox row; answer 201 with a receipt."""
    import hashlib
    from datetime import UTC, datetime

    import asyncpg
    from fastapi import FastAPI
    from fastapi.responses import Response

    from services.referral.referrals.schemas import ReferralCreate

    state: dict[str, Any] = {}
    app = FastAPI(title="limit-postgres")

    @app.on_event("startup")
    async def open_pool() -> None:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=20)
        async with pool.acquire() as connection:
            for statement in LIMIT_SCHEMA_POSTGRES:
                await connection.execute(statement)
        state["pool"] = pool

    @app.on_event("shutdown")
    async def close_pool() -> None:
        await state["pool"].close()

    async def submit(body: ReferralCreate) -> Response:
        referral_id, now = str(uuid.uuid4()), datetime.now(UTC)
        document = body.model_dump_json()
        async with state["pool"].acquire() as db, db.transaction():
            number = await db.fetchval("SELECT nextval('reference_numbers')")
            reference = f"MASH-{now.year}-{number:06d}"
            await db.execute("INSERT INTO referrals VALUES ($1, $2, $3, $4)",
                             referral_id, reference, now, document)
            await db.executemany("INSERT INTO subjects VALUES ($1, $2, $3, $4)", [
                (str(uuid.uuid4()), referral_id, position, subject.model_dump_json())
                for position, subject in enumerate(body.subjects)])
            seq, prev = await db.fetchrow(
                "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
            entry = [prev, now.isoformat(), "partner", "create", referral_id]
            digest = hashlib.sha256(json.dumps(entry).encode()).hexdigest()
            await db.execute("INSERT INTO audit VALUES ($1, $2, $3, $4, $5, $6, $7)",
                             seq + 1, prev, digest, now, "partner", "create", referral_id)
            await db.execute("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
                             seq + 1, digest)
            await db.execute("INSERT INTO outbox (event_id, payload, created_at) "
                             "VALUES ($1, $2, $3)", str(uuid.uuid4()),
                             limit_event(referral_id, reference, now), now)
        return limit_receipt(referral_id, reference, now)

    serve_limit_app(app, submit, port)


def baseline_command(port: int, limit_database: Path | None = None,
                     limit_postgres: str | None = None) -> list[str]:
    """The baseline app's command: validate only, or (with a database) the limit, on
    SQLite (a file) or PostgreSQL (a libpq DSN)."""
    if limit_postgres is not None:
        return [sys.executable, str(COMMON), "limit-postgres", "--port", str(port),
                "--dsn", limit_postgres]
    if limit_database is not None:
        return [sys.executable, str(COMMON), "limit", "--port", str(port),
                "--database", str(limit_database)]
    return [sys.executable, str(COMMON), "baseline", "--port", str(port)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    base = commands.add_parser("baseline")
    base.add_argument("--port", type=int, required=True)
    limit = commands.add_parser("limit")
    limit.add_argument("--port", type=int, required=True)
    limit.add_argument("--database", type=Path, required=True)
    limit_pg = commands.add_parser("limit-postgres")
    limit_pg.add_argument("--port", type=int, required=True)
    limit_pg.add_argument("--dsn", required=True)
    gen = commands.add_parser("load")
    gen.add_argument("--port", type=int, required=True)
    gen.add_argument("--count", type=int, required=True)
    gen.add_argument("--concurrency", type=int, default=16)
    gen.add_argument("--prefix", required=True)
    gen.add_argument("--token", default=None)
    gen.add_argument("--children", choices=CHILDREN, default="one",
                     help="whose referrals: see referral_bodies")
    gen.add_argument("--idempotency-keys", action="store_true",
                     help="an Idempotency-Key of its own on every request")
    args = parser.parse_args()
    if args.command == "baseline":
        serve_baseline(args.port)
        return
    if args.command == "limit":
        serve_limit(args.port, args.database)
        return
    if args.command == "limit-postgres":
        serve_limit_postgres(args.port, args.dsn)
        return
    bodies = referral_bodies(args.count, args.prefix, args.children)
    requests = [http_request(args.port, body, args.token,
                             f"{args.prefix}-{i:06d}" if args.idempotency_keys else None)
                for i, body in enumerate(bodies)]
    print(json.dumps(asyncio.run(load(args.port, requests, args.concurrency))))


if __name__ == "__main__":
    main()
