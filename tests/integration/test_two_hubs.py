"""Two hubs side by side: a child placed from hub A (LA 372) into hub B's area (LA 373).
A's referral reaches B as a notification, B knows the child, B's decision goes back to A,
B down for a while loses nothing, and a notice signed with a key A never registered is
refused."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.bodies import referral_body
from tests.integration.partners import child
from tests.two_hubs import (
    RunningHub,
    by_external_reference,
    client_id_at,
    new_hub,
    pair,
    wait_for,
)

PLACED = {"placing_la_code": "372", "host_la_code": "373", "placed_at": "2026-06-01"}
NHS = "999 000 0026"


@pytest.fixture(scope="module")
def hubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningHub, RunningHub]]:
    root = tmp_path_factory.mktemp("two-hubs")
    a = new_hub(root, "Rotherham MASH", "372")
    b = new_hub(root, "Doncaster MASH", "373")
    a.start()
    try:
        b.start()
        try:
            pair(a, b)
            yield a, b
        finally:
            b.close()
    finally:
        a.close()


def placed_child(**changes: Any) -> dict[str, Any]:
    return child(nhs_number=NHS, given_name="Lily", family_name="Testcase",
                 date_of_birth="2011-02-03", looked_after=PLACED,
                 child_protection_plan="current", **changes)


def test_a_police_referral_in_a_reaches_b_which_knows_the_child_and_answers_with_its_decision(
    hubs: tuple[RunningHub, RunningHub],
) -> None:
    a, b = hubs
    # B knows the child already: a referral of its own, earlier.
    earlier = b.refer(referral_body(subjects=[child(
        nhs_number=NHS, given_name="Lily", family_name="Testcase",
        date_of_birth="2011-02-03")], external_reference="B-LOCAL-1"))
    b_staff = b.as_user("mash.practitioner")
    known_person = b_staff.get(f"/api/v1/referrals/{earlier['id']}").json()[
        "subjects"][0]["person_id"]
    assert known_person

    sent = a.refer(referral_body(subjects=[placed_child()], external_reference="SYP-1"))
    started = time.monotonic()
    notice = wait_for(lambda: by_external_reference(b, sent["reference"]), seconds=10)
    assert time.monotonic() - started < 10
    assert notice["kind"] == "notification" and notice["source"] == "5C"
    assert notice["known_to"]["name"] == "Rotherham MASH"
    assert notice["known_to"]["their_reference"] == sent["reference"]
    (subject,) = notice["subjects"]
    assert subject["person_id"] == known_person, "B recognises the child it knows"
    assert subject["looked_after"] == PLACED and subject["child_protection_plan"] == "current"
    assert [c["code"] for c in notice["concerns"]] == ["3A", "10A"]
    assert "domestic incident" not in notice["summary"], "no narrative unless chosen"
    assert "Children Act 2004 s11" in notice["summary"]

    # A keeps B's answer on its referral.
    a_staff = a.as_user("mash.practitioner")
    mine = wait_for(lambda: (r := a_staff.get(f"/api/v1/referrals/{sent['id']}").json())
                    ["peer_notices"] and r["peer_notices"][0]["status"] == "delivered" and r)
    assert mine["peer_notices"][0]["their_reference"] == notice["reference"]
    assert mine["peer_notices"][0]["legal_basis"] == "Children Act 2004 s11 / DPA 2018 Sch 8"
    assert "peer_hub_notified" in [t["what"] for t in mine["timeline"]]
    # B does not send A's own notice back to A.
    assert b_staff.get(f"/api/v1/referrals/{notice['id']}").json()["peer_notices"] == []

    # B decides; the decision goes back to A.
    tag = b_staff.get(f"/api/v1/referrals/{notice['id']}").headers["etag"]
    triaged = b_staff.post(f"/api/v1/referrals/{notice['id']}/triage", headers={"If-Match": tag},
                           json={"rag": "amber", "rationale": "placed child, known here"})
    assert triaged.status_code == 200, triaged.text
    decided = b_staff.post(f"/api/v1/referrals/{notice['id']}/decision",
                           headers={"If-Match": triaged.headers["etag"]},
                           json={"outcome": "early_help", "rationale": "synthetic reasons"})
    assert decided.status_code == 200, decided.text
    answer = wait_for(lambda: by_external_reference(a, notice["reference"]), seconds=10)
    assert answer["known_to"]["name"] == "Doncaster MASH"
    assert "early_help" in answer["summary"] and "synthetic reasons" not in answer["summary"]
    assert answer["subjects"][0]["person_id"] == mine["subjects"][0]["person_id"]


def test_b_down_for_a_while_loses_nothing(hubs: tuple[RunningHub, RunningHub]) -> None:
    a, b = hubs
    b.stop()
    try:
        sent = a.refer(referral_body(subjects=[placed_child()], external_reference="SYP-2"))
        ledger = a.as_user("admin").get("/api/v1/peer-hubs/ledger")
        assert ledger.status_code == 200
        waiting = wait_for(lambda: [
            n for n in a.as_user("admin").get("/api/v1/peer-hubs/ledger").json()["items"]
            if n["referral_id"] == sent["id"] and n["attempt_count"] >= 2])
        assert waiting[0]["status"] == "pending" and waiting[0]["last_error"]
    finally:
        b.start()
    notice = wait_for(lambda: by_external_reference(b, sent["reference"]), seconds=15)
    assert notice["known_to"]["their_reference"] == sent["reference"]
    # Sent more than once, held once (the Idempotency-Key is the notice's).
    page = b.as_user("mash.practitioner").get("/api/v1/referrals",
                                              params={"q": sent["reference"]}).json()
    assert len([i for i in page["items"] if i["external_reference"] == sent["reference"]]) == 1


def test_a_notice_signed_with_a_key_a_never_registered_is_refused(
    hubs: tuple[RunningHub, RunningHub],
) -> None:
    a, b = hubs
    forger = ec.generate_private_key(ec.SECP256R1())
    pem = forger.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    registered = next(p for p in a.as_user("admin").get("/api/v1/peer-hubs").json()["items"]
                      if p["la_code"] == "373")
    kid = httpx.get(registered["jwks_uri"], timeout=10).json()["keys"][0]["kid"]
    client_id = client_id_at(b, a)
    now = int(time.time())
    for header_kid in (kid, "forged-key"):
        assertion = jwt.encode({"iss": client_id, "sub": client_id, "aud": f"{b.url}/oauth2/token",
                                "iat": now, "exp": now + 60, "jti": f"forged-{header_kid}"},
                               pem, algorithm="ES256", headers={"kid": header_kid})
        refused = httpx.post(f"{b.url}/oauth2/token", timeout=10, data={
            "grant_type": "client_credentials", "client_id": client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion})
        assert refused.status_code == 401, refused.text
    unsigned = httpx.post(f"{b.url}/api/v1/referrals", timeout=10,
                          json=referral_body(subjects=[placed_child()]),
                          headers={"authorization": "Bearer forged.token.here"})
    assert unsigned.status_code == 401


def test_peer_hubs_are_for_admins_and_a_private_base_url_is_refused(
    hubs: tuple[RunningHub, RunningHub], tmp_path: Path,
) -> None:
    a, _ = hubs
    body = {"name": "Elsewhere", "la_code": "999", "base_url": "http://10.0.0.8",
            "client_id": "mash-hub-372"}
    assert a.as_user("mash.practitioner").post("/api/v1/peer-hubs", json=body
                                               ).status_code == 403
    refused = a.as_user("admin").post("/api/v1/peer-hubs", json=body)
    assert refused.status_code == 422, refused.text
    assert ["body", "base_url"] in [e["loc"] for e in refused.json()["errors"]]
    assert "999" not in [p["la_code"] for p in
                         a.as_user("admin").get("/api/v1/peer-hubs").json()["items"]]


def test_each_share_and_each_decision_not_to_share_is_in_the_ledger_with_its_basis(
    hubs: tuple[RunningHub, RunningHub],
) -> None:
    a, b = hubs
    sent = a.refer(referral_body(subjects=[placed_child()], external_reference="SYP-3"))
    wait_for(lambda: by_external_reference(b, sent["reference"]))
    peer = next(p for p in a.as_user("admin").get("/api/v1/peer-hubs").json()["items"]
                if p["la_code"] == "373")
    staff = a.as_user("mash.manager")
    shared = staff.post(f"/api/v1/referrals/{sent['id']}/peer-notices", json={
        "peer_hub_id": peer["id"], "share": True, "share_summary": True,
        "legal_basis": "DPA 2018 Sch 8 para 4 (safeguarding of children)"})
    assert shared.status_code == 201, shared.text
    declined = staff.post(f"/api/v1/referrals/{sent['id']}/peer-notices", json={
        "peer_hub_id": peer["id"], "share": False,
        "reason": "the police asked us not to share the account yet"})
    assert declined.status_code == 201, declined.text
    assert declined.json()["status"] == "not_shared"
    no_reason = staff.post(f"/api/v1/referrals/{sent['id']}/peer-notices",
                           json={"peer_hub_id": peer["id"], "share": False})
    assert no_reason.status_code == 422

    account = wait_for(lambda: [r for r in _all_about(b, sent["reference"])
                                if "domestic incident" in r["summary"]])
    assert "DPA 2018 Sch 8 para 4" in account[0]["summary"]

    for reader in ("board.member", "auditor", "admin"):
        ledger = a.as_user(reader).get("/api/v1/peer-hubs/ledger")
        assert ledger.status_code == 200, (reader, ledger.text)
    assert a.as_user("mash.practitioner").get("/api/v1/peer-hubs/ledger").status_code == 403
    lines = {n["id"]: n for n in a.as_user("auditor").get("/api/v1/peer-hubs/ledger").json()[
        "items"] if n["referral_id"] == sent["id"]}
    assert {(n["kind"], n["legal_basis"], n["reason"]) for n in lines.values()} == {
        ("referral", "Children Act 2004 s11 / DPA 2018 Sch 8", None),
        ("share", "DPA 2018 Sch 8 para 4 (safeguarding of children)", None),
        ("share", None, "the police asked us not to share the account yet")}
    assert all("Lily" not in str(n) for n in lines.values()), "no names in the ledger"

    (figures,) = a.as_user("board.member").get("/api/v1/peer-hubs/ledger").json()["figures"]
    assert (figures["name"], figures["not_shared"]) == ("Doncaster MASH", 1)
    assert figures["delivered"] >= 3 and figures["sent"] >= figures["delivered"]
    assert figures["median_seconds_to_deliver"] is not None
    assert 0 < figures["median_seconds_to_deliver"] < 30
    later = a.as_user("auditor").get("/api/v1/peer-hubs/ledger",
                                     params={"from": "2999-01-01T00:00:00Z"}).json()
    assert later["items"] == [] and later["figures"] == []
    naive = a.as_user("auditor").get("/api/v1/peer-hubs/ledger",
                                     params={"from": "2026-01-01T00:00:00"})
    assert naive.status_code == 422


def test_the_private_keys_are_sealed_at_rest(hubs: tuple[RunningHub, RunningHub]) -> None:
    a, _ = hubs
    with sqlite3.connect(a.data_dir / "referral.db") as conn:
        sealed = [row[0] for row in conn.execute(
            "SELECT private_key_encrypted FROM peer_hubs").fetchall()]
    assert sealed and all("PRIVATE KEY" not in s and s.startswith("gAAAA") for s in sealed)


def _all_about(hub: RunningHub, reference: str) -> list[dict[str, Any]]:
    staff = hub.as_user("mash.practitioner")
    page = staff.get("/api/v1/referrals", params={"q": reference}).json()
    return [staff.get(f"/api/v1/referrals/{i['id']}").json() for i in page["items"]
            if i["external_reference"] == reference]


def test_a_new_key_is_used_at_once_and_a_stopped_peer_is_told_nothing(
    hubs: tuple[RunningHub, RunningHub],
) -> None:
    a, b = hubs
    admin = a.as_user("admin")
    peer = next(p for p in admin.get("/api/v1/peer-hubs").json()["items"]
                if p["la_code"] == "373")
    old_kid = httpx.get(peer["jwks_uri"], timeout=10).json()["keys"][0]["kid"]
    assert a.as_user("mash.manager").post(f"/api/v1/peer-hubs/{peer['id']}/key"
                                          ).status_code == 403
    rotated = admin.post(f"/api/v1/peer-hubs/{peer['id']}/key")
    assert rotated.status_code == 200, rotated.text
    new_kid = httpx.get(peer["jwks_uri"], timeout=10).json()["keys"][0]["kid"]
    assert new_kid != old_kid
    sent = a.refer(referral_body(subjects=[placed_child()], external_reference="SYP-4"))
    assert wait_for(lambda: by_external_reference(b, sent["reference"]))

    stopped = admin.patch(f"/api/v1/peer-hubs/{peer['id']}", json={"active": False})
    assert stopped.status_code == 200 and stopped.json()["active"] is False
    assert httpx.get(peer["jwks_uri"], timeout=10).status_code == 404
    quiet = a.refer(referral_body(subjects=[placed_child()], external_reference="SYP-5"))
    time.sleep(3)
    assert by_external_reference(b, quiet["reference"]) is None
    assert not [n for n in admin.get("/api/v1/peer-hubs/ledger").json()["items"]
                if n["referral_id"] == quiet["id"]], "no notice for a stopped peer"
    resumed = admin.patch(f"/api/v1/peer-hubs/{peer['id']}", json={"active": True})
    assert resumed.status_code == 200 and resumed.json()["active"] is True
