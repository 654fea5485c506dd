"""Two real hubs side by side (`mash up` processes on their own ports and data
directories), each registered with the other as a peer hub: for tests and the bench."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.auth import basic, current_otp
from tests.helpers import free_port
from tests.mash_up import start, stop

# Retries a second apart: a hub that comes back is found within about a second.
FAST_RETRIES = json.dumps([0.5, *([1.0] * 60)])


@dataclass
class RunningHub:
    """One `mash up`, its demo credentials and a signed-in session per demo user."""

    name: str
    la_code: str
    data_dir: Path
    port: int
    env: dict[str, str]
    process: subprocess.Popen[str] | None = None
    sessions: dict[str, httpx.Client] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        # Sessions outlive a restart (kept in identity's database): a TOTP code works
        # once, so signing in again within its 30 seconds would be refused.
        self.process = start(self.data_dir, self.port, env=self.env,
                             log=self.data_dir.parent / f"{self.la_code}.log")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None

    def close(self) -> None:
        """Stop, and sign every session out of this test's clients."""
        self.stop()
        for session in self.sessions.values():
            session.close()
        self.sessions = {}

    @property
    def credentials(self) -> dict[str, Any]:
        return dict(json.loads((self.data_dir / "demo" / "credentials.json").read_text()))

    def as_user(self, username: str) -> httpx.Client:
        """A client signed in as the demo user ``username`` (CSRF header included)."""
        if username not in self.sessions:
            user = next(u for u in self.credentials["users"] if u["username"] == username)
            client = httpx.Client(base_url=self.url, timeout=10,
                                  headers={"x-mash-csrf": "1"})
            for _ in range(3):  # a TOTP code works once: wait for the next on a clash
                signed_in = client.post("/api/v1/sessions", json={
                    "username": username, "password": user["password"],
                    "otp": current_otp(user["totp_secret"])})
                if signed_in.status_code == 200:
                    break
                time.sleep(1)
            assert signed_in.status_code == 200, signed_in.text
            self.sessions[username] = client
        return self.sessions[username]

    def police_token(self) -> str:
        entry = self.credentials["clients"][0]
        response = httpx.post(f"{self.url}/oauth2/token", timeout=10,
                              data={"grant_type": "client_credentials"},
                              headers={"authorization": basic(entry["client_id"],
                                                              entry["client_secret"])})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def refer(self, body: dict[str, Any]) -> dict[str, Any]:
        """A referral from the hub's demo police system; its receipt."""
        response = httpx.post(f"{self.url}/api/v1/referrals", json=body, timeout=10,
                              headers={"authorization": f"Bearer {self.police_token()}"})
        assert response.status_code == 201, response.text
        return dict(response.json())


def new_hub(root: Path, name: str, la_code: str, **env: str) -> RunningHub:
    return RunningHub(name, la_code, root / f"hub-{la_code}", free_port(), {
        "MASH_LA_CODE": la_code, "MASH_HUB_NAME": name,
        "MASH_PEER_RETRY_SCHEDULE_SECONDS": FAST_RETRIES, **env})


def client_id_at(peer: RunningHub, hub: RunningHub) -> str:
    """The partner system id ``hub`` has at ``peer``."""
    return f"mash-hub-{hub.la_code}"


def pair(a: RunningHub, b: RunningHub) -> dict[str, dict[str, Any]]:
    """Register each hub at the other: an agency and a private_key_jwt partner system for
    the other hub, and the other as a peer hub. Returns each side's peer hub records."""
    agencies = {}
    for here, there in ((a, b), (b, a)):
        created = here.as_user("admin").post("/api/v1/agencies", json={
            "name": f"{there.name} (peer hub)", "kind": "local_authority"})
        assert created.status_code == 201, created.text
        agencies[here.la_code] = created.json()["id"]
    peers = {}
    for here, there in ((a, b), (b, a)):
        registered = here.as_user("admin").post("/api/v1/peer-hubs", json={
            "name": there.name, "la_code": there.la_code, "base_url": there.url,
            "client_id": client_id_at(there, here), "agency_id": agencies[here.la_code]})
        assert registered.status_code == 201, registered.text
        peers[here.la_code] = registered.json()
    for here, there in ((a, b), (b, a)):
        client = there.as_user("admin").post("/api/v1/clients", json={
            "client_id": client_id_at(there, here), "name": f"{here.name} (peer hub)",
            "agency_id": agencies[there.la_code], "jwks_uri": peers[here.la_code]["jwks_uri"],
            "assertion_algorithms": ["ES256"]})
        assert client.status_code == 201, client.text
    return peers


def wait_for(found: Callable[[], Any], seconds: float = 15.0, every: float = 0.05) -> Any:
    """The first truthy answer of ``found`` within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = found()
        if answer:
            return answer
        time.sleep(every)
    raise AssertionError(f"not found within {seconds} s")


def by_external_reference(hub: RunningHub, reference: str) -> dict[str, Any] | None:
    """The referral (in full) the hub holds with the sender's reference ``reference``."""
    staff = hub.as_user("mash.practitioner")
    page = staff.get("/api/v1/referrals", params={"q": reference}).json()
    for item in page["items"]:
        if item["external_reference"] == reference:
            return dict(staff.get(f"/api/v1/referrals/{item['id']}").json())
    return None
