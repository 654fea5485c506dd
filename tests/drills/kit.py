"""Fault drills: partner systems submitting referrals while a fault is injected, and a
partner's webhook receiver recording what it is told. Shared by tests/drills and
bench/drills.py.

A drill submits ``count`` referrals from several concurrent workers. Each worker retries a
referral with the same Idempotency-Key on 409, 429, 502, 503, 504 and connection errors, as
partners are told to. Once a quarter are acknowledged the fault is injected (and undone);
then the drill waits for the partner to be told of every acknowledged referral.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sqlite3
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from tests.auth import client_token, load_credentials
from tests.bodies import referral_body
from tests.deployment import MASH, Deployment, Process, fetch, start, wait_until_ready
from tests.helpers import free_port
from tests.webhooks import Receiver

RECEIVED = "mash.referral.received"
RETRIED = {409, 429, 502, 503, 504}
ACCEPTABLE = {"201", "409", "429", "503"}
CONNECTION_ERROR = "connection error"
# A client honours Retry-After, but never waits longer than this (keeps the drills short).
LONGEST_WAIT = 1.0
OUTAGE_SECONDS = 10.0
RECEIVER_OUTAGE_SECONDS = 30.0
# How long the partner may go on hearing nothing new before the drill calls the rest lost:
# longer than notify's lease on a delivery (its send timeout + 30 s), since a delivery a
# killed process had claimed is tried again only when that lease runs out.
QUIET_SECONDS = 60.0
TOLD_WITHIN = 120.0


class Hub(Protocol):
    """The hub under drill, in either mode."""

    @property
    def base_url(self) -> str: ...

    @property
    def data_dir(self) -> Path: ...

    async def stored(self, tag: str) -> list[tuple[str, str]]:
        """(id, external_reference) of every stored referral whose reference starts with tag."""
        ...


@dataclass
class DeployedHub:
    """Deployment mode: the gateway in front, the referral service's PostgreSQL database."""

    deployment: Deployment

    @property
    def base_url(self) -> str:
        return self.deployment.gateway

    @property
    def data_dir(self) -> Path:
        return self.deployment.data_dir

    async def stored(self, tag: str) -> list[tuple[str, str]]:
        rows = await fetch(self.deployment.databases["referral"],
                           "SELECT id, external_reference FROM referrals "
                           "WHERE external_reference LIKE $1", f"{tag}-%")
        return [(row["id"], row["external_reference"]) for row in rows]


@dataclass
class EmbeddedHub:
    """`mash up`: one process, its SQLite files in the data directory."""

    process: Process
    port: int
    data_dir: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stored(self, tag: str) -> list[tuple[str, str]]:
        database = self.data_dir / "referral.db"
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
            rows = connection.execute("SELECT id, external_reference FROM referrals "
                                      "WHERE external_reference LIKE ?", (f"{tag}-%",))
            return [(str(i), str(ref)) for i, ref in rows.fetchall()]


@dataclass
class Tally:
    """What the clients saw."""

    statuses: Counter[str] = field(default_factory=Counter)
    acknowledged: dict[str, str] = field(default_factory=dict)  # external ref -> referral id
    acknowledged_at: list[float] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)
    quarter: int = 0
    quarter_acknowledged: asyncio.Event = field(default_factory=asyncio.Event)


async def submit(client: httpx.AsyncClient, reference: str, tally: Tally,
                 deadline: float) -> None:
    """Submit one referral until it is acknowledged, refused for good, or time runs out."""
    key = str(uuid.uuid4())
    body = referral_body(external_reference=reference)
    while time.monotonic() < deadline:
        try:
            response = await client.post("/api/v1/referrals", json=body,
                                         headers={"Idempotency-Key": key})
        except httpx.TransportError:
            tally.statuses[CONNECTION_ERROR] += 1
            await asyncio.sleep(0.2)
            continue
        status = response.status_code
        retry_after = response.headers.get("retry-after")
        label = str(status)
        if status == 503 and not retry_after:
            label = "503 without Retry-After"
        tally.statuses[label] += 1
        if status == 201:
            tally.acknowledged[reference] = response.json()["id"]
            tally.acknowledged_at.append(time.monotonic())
            if len(tally.acknowledged) >= tally.quarter:
                tally.quarter_acknowledged.set()
            return
        if status not in RETRIED:
            tally.given_up.append(f"{reference}: {status} {response.text[:200]}")
            return
        wait = float(retry_after) if retry_after and retry_after.isdigit() else 0.2
        await asyncio.sleep(min(wait, LONGEST_WAIT))
    tally.given_up.append(f"{reference}: not acknowledged in time")


async def load(base_url: str, token: str, tag: str, count: int, workers: int,
               tally: Tally, within: float = 180.0) -> None:
    """``count`` referrals from ``workers`` concurrent clients, each on its own connection."""
    references: asyncio.Queue[str] = asyncio.Queue()
    for n in range(count):
        references.put_nowait(f"{tag}-{n}")
    deadline = time.monotonic() + within

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=15,
                                     headers={"authorization": f"Bearer {token}"}) as client:
            while not references.empty():
                await submit(client, references.get_nowait(), tally, deadline)

    await asyncio.gather(*(worker() for _ in range(workers)))


class RecordingReceiver(Receiver):
    """The partner's receiver, also noting when each referral was first told."""

    def __init__(self) -> None:
        super().__init__()
        self.told_at: dict[str, float] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await super().__call__(scope, receive, send)
        if scope["type"] == "http" and self.received:
            data = self.received[-1].json.get("data", {})
            if "referral_id" in data:
                self.told_at.setdefault(data["referral_id"], time.monotonic())


@dataclass
class Drill:
    """One drill's hub, receiver and timings; given to the fault."""

    hub: Hub
    receiver: RecordingReceiver
    tally: Tally = field(default_factory=Tally)
    fault_started: float = 0.0
    fault_ended: float = 0.0


Fault = Callable[[Drill], Awaitable[None]]


@dataclass
class Result:
    """A drill's outcome, in the numbers the drill table shows."""

    name: str
    acknowledged: int
    stored_once: int
    stored_twice: list[str]
    told: int
    lost: list[str]
    told_twice: list[str]
    redelivered: int
    statuses: Counter[str]
    given_up: list[str]
    intake_gap: float
    told_recovery: float | None
    acceptable: set[str]

    def problems(self) -> list[str]:
        """Why the drill failed; empty when it held."""
        found = []
        if self.stored_once != self.acknowledged:
            found.append(f"{self.acknowledged - self.stored_once} of {self.acknowledged} "
                         "acknowledged referrals not stored exactly once")
        if self.stored_twice:
            found.append(f"stored more than once: {self.stored_twice[:5]}")
        if self.lost:
            found.append(f"{len(self.lost)} of {self.acknowledged} partners never told, "
                         f"e.g. {self.lost[:3]}")
        if self.told_twice:
            found.append(f"told twice under different webhook-ids: {self.told_twice[:5]}")
        unexpected = {s: n for s, n in self.statuses.items() if s not in self.acceptable}
        if unexpected:
            found.append(f"clients saw {unexpected} (all statuses: {dict(self.statuses)})")
        if self.given_up:
            found.append(f"{len(self.given_up)} referrals given up: {self.given_up[:3]}")
        return found

    def row(self) -> dict[str, Any]:
        """The drill table's row."""
        def seconds(value: float | None) -> str:
            return "never" if value is None else f"{value:.1f}"
        return {"drill": self.name, "acknowledged": self.acknowledged,
                "given up": len(self.given_up),
                "stored": self.stored_once, "delivered": self.told, "lost": len(self.lost),
                "duplicated": len(self.told_twice) + len(self.stored_twice),
                "redelivered (same id)": self.redelivered,
                "client statuses": " ".join(f"{k}:{v}" for k, v in sorted(self.statuses.items())),
                "longest intake gap s": f"{self.intake_gap:.1f}",
                "all told s after fault": seconds(self.told_recovery)}


def told(receiver: RecordingReceiver) -> tuple[dict[str, set[str]], dict[str, float], int]:
    """Webhook-ids by referral id, when each referral was first told, and repeats of an id."""
    ids: dict[str, set[str]] = {}
    counts = Counter(receiver.ids())
    for request in receiver.received:
        if request.json.get("type") == RECEIVED:
            ids.setdefault(request.json["data"]["referral_id"], set()).add(
                request.headers["webhook-id"])
    return ids, dict(receiver.told_at), sum(n - 1 for n in counts.values())


async def wait_until_told(drill: Drill, expected: set[str]) -> None:
    """Until every expected referral is told, or nothing new arrives for QUIET_SECONDS."""
    deadline = time.monotonic() + TOLD_WITHIN
    seen, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        ids, _, _ = told(drill.receiver)
        if expected <= set(ids):
            return
        if len(drill.receiver.received) != seen:
            seen, last_change = len(drill.receiver.received), time.monotonic()
        elif time.monotonic() - last_change > QUIET_SECONDS:
            return
        await asyncio.sleep(0.2)


async def run_drill(name: str, hub: Hub, fault: Fault, *, count: int, workers: int = 8,
                    acceptable: set[str] = ACCEPTABLE, within: float = 180.0) -> Result:
    """Submit ``count`` referrals, inject ``fault`` once a quarter are acknowledged."""
    receiver = RecordingReceiver()
    await receiver.start()
    drill = Drill(hub, receiver)
    tag = f"DRILL-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=15) as client:
        token = await client_token(client, load_credentials(hub.data_dir), hub.data_dir)
        client.headers["authorization"] = f"Bearer {token}"
        subscribed = await client.post("/api/v1/subscriptions", json={
            "channel": "webhook", "url": receiver.url, "event_types": [RECEIVED]})
        assert subscribed.status_code == 201, subscribed.text
        try:
            drill.tally.quarter = count // 4
            submitting = asyncio.create_task(
                load(hub.base_url, token, tag, count, workers, drill.tally, within))
            quarter = asyncio.create_task(drill.tally.quarter_acknowledged.wait())
            await asyncio.wait([submitting, quarter], return_when=asyncio.FIRST_COMPLETED)
            quarter.cancel()
            drill.fault_started = time.monotonic()
            await fault(drill)
            drill.fault_ended = time.monotonic()
            await submitting
            await wait_until_told(drill, set(drill.tally.acknowledged.values()))
            return await result(name, drill, tag, acceptable)
        finally:
            await receiver.stop()
            # Later drills' partners are others: this one's endpoint is gone.
            await client.patch(f"/api/v1/subscriptions/{subscribed.json()['id']}",
                               json={"active": False})


async def result(name: str, drill: Drill, tag: str, acceptable: set[str]) -> Result:
    tally = drill.tally
    rows = await drill.hub.stored(tag)
    by_reference = Counter(reference for _, reference in rows)
    ids_stored = {(referral_id, reference) for referral_id, reference in rows}
    stored_once = sum(1 for reference, referral_id in tally.acknowledged.items()
                      if by_reference[reference] == 1 and (referral_id, reference) in ids_stored)
    ids, told_at, redelivered = told(drill.receiver)
    acknowledged = set(tally.acknowledged.values())
    times = sorted([drill.fault_started, *tally.acknowledged_at])
    told_times = [told_at[i] for i in acknowledged if i in told_at]
    all_told = acknowledged <= set(ids)
    return Result(
        name=name, acknowledged=len(acknowledged), stored_once=stored_once,
        stored_twice=[r for r, n in by_reference.items() if n > 1],
        told=len(acknowledged & set(ids)), lost=sorted(acknowledged - set(ids)),
        told_twice=[i for i in acknowledged if len(ids.get(i, ())) > 1],
        redelivered=redelivered, statuses=tally.statuses, given_up=tally.given_up,
        intake_gap=max((b - a for a, b in itertools.pairwise(times)
                        if b >= drill.fault_started), default=0.0),
        told_recovery=(max(max(told_times) - drill.fault_ended, 0.0)
                       if all_told and told_times else None),
        acceptable=acceptable)


# Faults. Each undoes itself (in a finally) before it returns.

def kill_and_restart(process: Process, ready_url: str | None) -> Fault:
    """kill -9, a second's pause, then the same command again (until it is ready)."""
    async def fault(_drill: Drill) -> None:
        process.kill()
        await asyncio.sleep(1)
        process.restart()
        if ready_url:
            await asyncio.to_thread(wait_until_ready, process, ready_url)
    return fault


async def rabbitmqctl(*args: str) -> str:
    """Run rabbitmqctl; its output."""
    done = await asyncio.create_subprocess_exec(
        "rabbitmqctl", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await done.communicate()
    assert done.returncode == 0, f"rabbitmqctl {args}: {err.decode()[-500:]}"
    return out.decode()


async def local_ports_to(port: int, pids: set[int]) -> set[int]:
    """The local ports of these processes' TCP connections to ``port`` on this machine."""
    done = await asyncio.create_subprocess_exec(
        "ss", "-tnpH", "state", "established", f"( dport = :{port} )",
        stdout=subprocess.PIPE)
    out, _ = await done.communicate()
    ports = set()
    for line in out.decode().splitlines():
        fields = line.split()
        if any(f"pid={pid}," in line for pid in pids):
            ports.add(int(fields[2].rpartition(":")[2]))
    return ports


def close_broker_connections(deployment: Deployment) -> Fault:
    """RabbitMQ closes this deployment's connections (no one else's)."""
    async def fault(_drill: Drill) -> None:
        pids = {p.popen.pid for p in deployment.processes}
        ports = await local_ports_to(5672, pids)
        assert ports, "the deployment has no connection to RabbitMQ"
        listed = await rabbitmqctl("list_connections", "pid", "name", "-q",
                                   "--no-table-headers")
        for line in listed.splitlines():
            pid, _, name = line.partition("\t")
            if any(f":{port} -> " in name for port in ports):
                await rabbitmqctl("close_connection", pid.strip(), "fault drill")
    return fault


async def refuse_broker(_drill: Drill) -> None:
    """RabbitMQ refuses every connection for OUTAGE_SECONDS (stop_app), then is back."""
    await rabbitmqctl("stop_app")
    try:
        await asyncio.sleep(OUTAGE_SECONDS)
    finally:
        await rabbitmqctl("start_app")


def refuse_database(database_url: str) -> Fault:
    """PostgreSQL refuses connections to one database, and ends those it has, for a while."""
    import asyncpg

    base, _, name = database_url.replace("postgresql+asyncpg://", "postgresql://",
                                         1).rpartition("/")

    async def fault(_drill: Drill) -> None:
        admin = await asyncpg.connect(f"{base}/postgres")
        try:
            await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            try:
                await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE datname = $1 AND pid <> pg_backend_pid()", name)
                await asyncio.sleep(OUTAGE_SECONDS)
            finally:
                await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        finally:
            await admin.close()
    return fault


async def receiver_down(drill: Drill) -> None:
    """The partner's webhook endpoint refuses connections for RECEIVER_OUTAGE_SECONDS."""
    await drill.receiver.stop()
    try:
        await asyncio.sleep(RECEIVER_OUTAGE_SECONDS)
    finally:
        await drill.receiver.start()


def fill_disk(mount: Path) -> Fault:
    """The filesystem at ``mount`` (a small tmpfs) is full for OUTAGE_SECONDS."""
    async def fault(_drill: Drill) -> None:
        filler = mount / "filler"
        try:
            with filler.open("wb") as out:
                block = b"\0" * 65536
                with contextlib.suppress(OSError):
                    while True:
                        out.write(block)
                        out.flush()
            await asyncio.sleep(OUTAGE_SECONDS)
        finally:
            filler.unlink(missing_ok=True)
    return fault


def mount_tmpfs(directory: Path, size: str = "32m") -> None:
    """A small tmpfs at ``directory`` (needs root)."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
                   check=True, capture_output=True)


def unmount(directory: Path) -> None:
    subprocess.run(["umount", "-l", str(directory)], check=False, capture_output=True)


def embedded_environment() -> dict[str, str]:
    """The environment of a `mash up` started by hand (no inherited MASH_* settings)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MASH_")}


def table(rows: list[dict[str, Any]]) -> str:
    """Rows as a Markdown table."""
    if not rows:
        return ""
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
    return "\n".join(lines)


def is_root() -> bool:
    return os.geteuid() == 0



@contextmanager
def embedded(workdir: Path, notify_dir: Path | None = None) -> Iterator[EmbeddedHub]:
    """`mash up` in a process of its own, its output in a file; notify.db in ``notify_dir``
    (through a symbolic link, which SQLite follows) when given."""
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True)
    env = embedded_environment()
    if notify_dir is not None:
        (data_dir / "notify.db").symlink_to(notify_dir / "notify.db")
        # Readiness wants 100 MB free by default; the small disk has less from the start.
        env["MASH_READY_MIN_FREE_DISK_MB"] = "1"
    port = free_port()
    process = start("mash-up", [MASH, "up", "--port", str(port), "--data-dir", str(data_dir)],
                    workdir, env)
    try:
        wait_until_ready(process, f"http://127.0.0.1:{port}/readyz")
        yield EmbeddedHub(process, port, data_dir)
    finally:
        process.stop()
