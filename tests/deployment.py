"""Deployment mode for tests, as deploy/README.md describes it: each service a process of
its own with its own PostgreSQL database, `mash relay`, RabbitMQ between them (on an exchange
of the test's), nginx in front. Started and torn down by ``deployed()``."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mash.topology import SERVICES
from shared.broker.rabbitmq import RabbitMQBroker
from shared.settings import Settings
from tests.helpers import eventually, free_port

ROOT = Path(__file__).resolve().parents[1]
GATEWAY_TEMPLATE = ROOT / "deploy" / "nginx" / "mash.conf"
MASH = str(Path(sys.executable).with_name("mash"))
START_TIMEOUT = 60.0
EVENT_TIMEOUT = 15.0
# A tiny allowance would trip the functional tests, which all come from 127.0.0.1;
# the burst test sends far more than this from an address of its own.
RATE_LIMIT = "20r/s"
RATE_BURST = 100


@dataclass
class Process:
    """A process this module started, with its output in a file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    argv: list[str]
    workdir: Path
    env: dict[str, str] | None

    def kill(self) -> None:
        """kill -9, as the kernel's OOM killer or a pulled plug would."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def restart(self) -> None:
        """Start the same command again, its output added to the same file."""
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(self.argv, cwd=self.workdir, env=self.env,
                                          stdout=out, stderr=subprocess.STDOUT)

    def output(self, last: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-last:]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)


@dataclass
class Deployment:
    """What the tests need to know about the running deployment."""

    gateway: str
    ports: dict[str, int]
    databases: dict[str, str]
    exchange: str
    access_log: Path
    data_dir: Path
    processes: list[Process]

    def outputs(self) -> str:
        """Every process's recent output, for a failure message."""
        return "\n".join(f"--- {p.name} ---\n{p.output(2000)}" for p in self.processes)

    def log_entries(self) -> list[dict[str, Any]]:
        """The gateway's access log, one JSON object per request."""
        return [json.loads(line) for line in self.access_log.read_text().splitlines()]

    async def log_entry(self, request_id: str) -> dict[str, Any]:
        """The access-log entry of one request (nginx writes it just after answering)."""
        async def find() -> dict[str, Any]:
            return next((e for e in self.log_entries() if e["request_id"] == request_id), {})
        return await eventually(find, within=5)

    def process(self, name: str) -> Process:
        """The running process called ``name`` (a service, "relay" or "nginx")."""
        return next(p for p in self.processes if p.name == name)

    def ready_url(self, name: str) -> str:
        """Where a service (or, for "relay" and "nginx", the gateway) says it is ready."""
        if name in self.ports:
            return f"http://127.0.0.1:{self.ports[name]}/readyz"
        return f"{self.gateway}/healthz"


def render_gateway_config(values: dict[str, str]) -> str:
    """deploy/nginx/mash.conf with its ${PLACEHOLDERS} filled in, as envsubst would."""
    template = GATEWAY_TEMPLATE.read_text()
    missing = set(re.findall(r"\$\{(\w+)\}", template)) - set(values)
    assert not missing, f"no value for placeholders {sorted(missing)}"
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], template)


async def fetch(database_url: str, sql: str, *args: object) -> list[dict[str, Any]]:
    """Rows of one query against a service's database."""
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://",
                                                      "postgresql://", 1))
    try:
        return [dict(row) for row in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


def delete_broker_objects(rabbitmq_url: str, exchange: str) -> None:
    """Remove the exchanges and queues this module's hub declared on the shared RabbitMQ."""
    import aio_pika

    naming = RabbitMQBroker(rabbitmq_url, exchange=exchange)
    settings = Settings(broker_url=rabbitmq_url, broker_exchange=exchange)
    queues = [naming.queue_name(subscription.queue)
              for factory in SERVICES.values()
              for subscription in factory(settings, naming, None).subscriptions]

    async def run() -> None:
        connection = await aio_pika.connect(rabbitmq_url, timeout=5)
        try:
            channel = await connection.channel()
            for queue in queues:
                await channel.queue_delete(queue)
                await channel.queue_delete(f"{queue}.dead")
            for name in (exchange, naming.dead_letter_exchange_name):
                await channel.exchange_delete(name)
        finally:
            await connection.close()

    asyncio.run(run())


def service_environment(rabbitmq_url: str, exchange: str, databases: dict[str, str],
                        gateway: str, data_dir: Path) -> dict[str, str]:
    """The MASH_* settings of a production deployment (no inherited MASH_* leaks in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASH_")}
    env.update({
        "MASH_ENVIRONMENT": "production",
        "MASH_SECRET_KEY": secrets.token_urlsafe(32),
        "MASH_BROKER_URL": rabbitmq_url,
        "MASH_BROKER_EXCHANGE": exchange,
        "MASH_BASE_URL": gateway,
        "MASH_DATA_DIR": str(data_dir),
        "MASH_OUTBOX_POLL_SECONDS": "0.5",
    })
    for name, url in databases.items():
        env[f"MASH_{name.upper()}_DATABASE_URL"] = url
    return env


def start(name: str, argv: list[str], workdir: Path, env: dict[str, str] | None) -> Process:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(argv, cwd=workdir, env=env, stdout=out,
                                 stderr=subprocess.STDOUT)
    return Process(name, popen, log, argv, workdir, env)


def wait_until_ready(process: Process, url: str) -> None:
    """Poll ``url`` until it answers 200; fail with the process's output if it dies first."""
    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise AssertionError(f"{process.name} exited with {process.popen.returncode} "
                                 f"before it was ready; its output:\n{process.output()}")
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:300]}"
        except httpx.TransportError as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise AssertionError(f"{process.name} was not ready within {START_TIMEOUT:.0f} s "
                         f"(last answer from {url}: {last}); its output:\n{process.output()}")


def stop_all(processes: list[Process]) -> None:
    """Stop the processes, the last started first (nginx before the services behind it)."""
    for process in reversed(processes):
        process.stop()


@contextmanager
def deployed(
    postgres_database_factory: Callable[[], AbstractContextManager[str]],
    rabbitmq_server: str,
    nginx_binary: str,
    *,
    rate_limit: str = RATE_LIMIT,
    rate_burst: int = RATE_BURST,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Deployment]:
    """A whole deployment for the block: databases, services, relay, nginx; all gone after."""
    exchange = f"t{uuid.uuid4().hex[:10]}.events"
    # Not pytest's tmp_path: that is private to the user, and nginx's workers run as
    # `nobody` when the tests run as root, so they need to reach their temp directories.
    workdir = Path(tempfile.mkdtemp(prefix="mash-deployment-"))
    workdir.chmod(0o755)
    gateway_port = free_port()
    gateway = f"http://127.0.0.1:{gateway_port}"
    processes: list[Process] = []

    with ExitStack() as cleanup:
        # Undone in reverse: processes stop first, then the databases and broker objects go.
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        cleanup.callback(delete_broker_objects, rabbitmq_server, exchange)
        databases = {name: cleanup.enter_context(postgres_database_factory())
                     for name in SERVICES}
        cleanup.callback(stop_all, processes)
        data_dir = workdir / "data"
        env = service_environment(rabbitmq_server, exchange, databases, gateway, data_dir)
        env.update(extra_env or {})

        migrated = subprocess.run([MASH, "migrate"], cwd=workdir, env=env,
                                  capture_output=True, text=True, timeout=120)
        assert migrated.returncode == 0, f"mash migrate failed:\n{migrated.stderr[-4000:]}"
        # What an administrator does first: register agencies and their API clients
        # (here the demo set of `mash up`, credentials in DATA_DIR/demo).
        seeded = subprocess.run([MASH, "demo", "--data-dir", str(data_dir)], cwd=workdir,
                                env=env, capture_output=True, text=True, timeout=120)
        assert seeded.returncode == 0, f"mash demo failed:\n{seeded.stderr[-4000:]}"

        ports = {name: free_port() for name in SERVICES}
        for name, port in ports.items():  # outboxes are published by `mash relay` alone
            processes.append(start(name, [MASH, "serve", name, "--port", str(port),
                                          "--no-relay"], workdir, env))
        relay = start("relay", [MASH, "relay"], workdir, env)
        processes.append(relay)
        for process in processes:
            if process.name in ports:
                wait_until_ready(process, f"http://127.0.0.1:{ports[process.name]}/readyz")

        access_log = workdir / "access.log"
        config = workdir / "gateway.conf"
        config.write_text(render_gateway_config({
            "GATEWAY_LISTEN": f"127.0.0.1:{gateway_port}",
            "ACCESS_LOG": str(access_log),
            "WEB_ROOT": str(ROOT / "web"),
            "RATE_LIMIT": rate_limit,
            "RATE_BURST": str(rate_burst),
            **{f"{name.upper()}_UPSTREAM": f"127.0.0.1:{port}" for name, port in ports.items()},
        }))
        # Started as root, nginx's workers would run as nobody and could not read web/ in
        # a checkout under a private directory (a mktemp -d clone, pytest's own tmp dirs).
        directives = "daemon off; user root;" if os.geteuid() == 0 else "daemon off;"
        nginx = start("nginx", [nginx_binary, "-p", f"{workdir}/", "-e", "stderr",
                                "-c", str(config), "-g", directives], workdir, None)
        processes.append(nginx)
        wait_until_ready(nginx, f"{gateway}/healthz")
        assert relay.popen.poll() is None, f"mash relay exited:\n{relay.output()}"

        yield Deployment(gateway, ports, databases, exchange, access_log, data_dir, processes)

        exited = [p for p in processes if p.popen.poll() is not None]
        assert not exited, "exited during the tests: " + ", ".join(
            f"{p.name} ({p.popen.returncode}):\n{p.output()}" for p in exited)
