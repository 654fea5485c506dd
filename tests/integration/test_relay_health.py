"""`mash relay --port`: the relay answers an orchestrator's probes and Prometheus, and
still publishes (deploy/kubernetes/base/relay.yaml, deploy/compose.yaml)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.deployment import delete_broker_objects
from tests.helpers import free_port

MASH = str(Path(sys.executable).with_name("mash"))


def test_relay_serves_health_readiness_and_metrics(rabbitmq_server: str, unique_name: str,
                                                   tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASH_")}
    env.update({"MASH_BROKER_URL": rabbitmq_server, "MASH_BROKER_EXCHANGE": unique_name,
                "MASH_DATA_DIR": str(tmp_path)})
    subprocess.run([MASH, "migrate", "referral"], env=env, check=True, capture_output=True)
    port = free_port()
    log = (tmp_path / "relay.log").open("wb")
    relay = subprocess.Popen([MASH, "relay", "referral", "--port", str(port)], env=env,
                             stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert relay.poll() is None, (tmp_path / "relay.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "relay did not answer /healthz"
            time.sleep(0.2)
        ready = httpx.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        # Its database (a SQLite file here, so its disk too) and the broker.
        assert ready.json()["checks"] == {"referral.database": "ok", "disk": "ok",
                                          "broker": "ok"}
        assert "mash_outbox_published" in httpx.get(f"{base}/metrics", timeout=5).text
        # Nothing else is served: no API, no OpenAPI document.
        assert httpx.get(f"{base}/openapi.json", timeout=5).status_code == 404
    finally:
        relay.send_signal(signal.SIGTERM)
        # uvicorn shuts down, then ends by the signal it was given (as `mash serve` does).
        assert relay.wait(timeout=15) in (0, -signal.SIGTERM)
        delete_broker_objects(rabbitmq_server, unique_name)
