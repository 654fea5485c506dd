"""Administrators' changes are audited (who, when, what; never a secret), and a user who
lost their second factor gets a new one, shown once, with their sessions ended."""

from __future__ import annotations

import pyotp

from shared.auth import SESSION_COOKIE
from tests.auth import current_otp, demo_user
from tests.integration.partners import Intake


async def test_every_admin_change_is_audited_without_secrets(intake: Intake) -> None:
    csrf = await intake.as_user("admin")
    users = (await intake.client.get("/api/v1/users")).json()
    board = next(u for u in users if u["username"] == "board.member")
    demoted = await intake.client.patch(f"/api/v1/users/{board['id']}", headers=csrf,
                                        json={"roles": ["auditor"]})
    assert demoted.status_code == 200, demoted.text
    agency = board["agency_id"]
    client = await intake.client.post("/api/v1/clients", headers=csrf, json={
        "client_id": "e2e-school-mis", "name": "A school's MIS", "agency_id": agency,
        "jwks": {"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "k1"}]}})
    assert client.status_code == 201, client.text
    disabled = await intake.client.patch("/api/v1/clients/e2e-school-mis", headers=csrf,
                                         json={"active": False})
    assert disabled.status_code == 200, disabled.text

    changes = (await intake.client.get("/api/v1/admin-changes")).json()
    actions = [(c["action"], c["record_id"]) for c in changes]
    assert actions[:3] == [("update_client", "e2e-school-mis"),
                           ("create_client", "e2e-school-mis"), ("update_user", board["id"])]
    assert changes[2]["changes"] == {"roles": ["auditor"]}
    assert changes[1]["changes"]["jwks"] == "(changed)", "keys are not copied into the log"
    assert all(c["actor"] for c in changes)

    await intake.as_user("auditor")
    assert (await intake.client.get("/api/v1/admin-changes")).status_code == 403


async def test_an_admin_resets_a_users_second_factor_shown_once(intake: Intake) -> None:
    await intake.as_user("school.dsl")  # a session that must end
    old_session = intake.sessions["school.dsl"]
    csrf = await intake.as_user("admin")
    users = (await intake.client.get("/api/v1/users")).json()
    dsl = next(u for u in users if u["username"] == "school.dsl")
    reset = await intake.client.post(f"/api/v1/users/{dsl['id']}/second-factor", headers=csrf)
    assert reset.status_code == 200, reset.text
    secret = reset.json()["totp_secret"]
    assert reset.json()["otpauth_uri"].startswith("otpauth://totp/")
    assert secret != demo_user(intake.credentials, "school.dsl")["totp_secret"]
    listed = (await intake.client.get("/api/v1/users")).json()
    assert "totp_secret" not in next(u for u in listed if u["id"] == dsl["id"])
    (change,) = [c for c in (await intake.client.get("/api/v1/admin-changes")).json()
                 if c["action"] == "reset_second_factor"]
    assert change["record_id"] == dsl["id"] and secret not in str(change)

    intake.client.cookies.clear()
    intake.client.cookies.set(SESSION_COOKIE, old_session)
    assert (await intake.client.get("/api/v1/me")).status_code == 401, "sessions end at once"
    intake.client.cookies.clear()
    user = demo_user(intake.credentials, "school.dsl")
    refused = await intake.client.post("/api/v1/sessions", json={
        "username": "school.dsl", "password": user["password"],
        "otp": current_otp(user["totp_secret"])})
    assert refused.status_code != 200, "the old second factor no longer works"
    signed_in = await intake.client.post("/api/v1/sessions", json={
        "username": "school.dsl", "password": user["password"],
        "otp": pyotp.TOTP(secret).now()})
    assert signed_in.status_code == 200, signed_in.text
