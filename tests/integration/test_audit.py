"""The audit log holds against someone with the database: its seals are keyed with a key
kept out of it, and a checkpoint kept elsewhere proves what came before it. Refused reads
and searches (with their terms) are audited too."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from services.referral.audit.models import AuditEntry
from services.referral.audit.seals import checkpoint, seal_head, seal_key
from services.referral.audit.service import entry_hash, verify_chain
from shared.events import utcnow
from tests.auth import load_credentials
from tests.bodies import referral_body
from tests.integration.hub import hub_settings, start_hub
from tests.integration.partners import HEALTH, Intake, child


def key_of(intake: Intake) -> bytes:
    settings = intake.hub.services["referral"].settings
    return seal_key(settings.secret_key.get_secret_value())


def recompute_chain(database_file: Path, seq: int, actor: str) -> None:
    """What someone with the database file alone can do: drop the guards, change an entry,
    and recompute every hash after it and the head, so the unkeyed chain holds again."""
    with sqlite3.connect(database_file) as conn:
        conn.row_factory = sqlite3.Row
        conn.execute("DROP TRIGGER audit_entries_no_update")
        conn.execute("DROP TRIGGER audit_entries_no_delete")
        conn.execute("UPDATE audit_entries SET actor = ? WHERE seq = ?", (actor, seq))
        prev = "0" * 64
        for row in list(conn.execute("SELECT * FROM audit_entries ORDER BY seq")):
            at = datetime.fromisoformat(row["at"])
            entry = AuditEntry(**{**dict(row), "prev_hash": prev,
                                  "at": at if at.tzinfo else at.replace(tzinfo=UTC)})
            prev = entry_hash(entry)
            conn.execute("UPDATE audit_entries SET prev_hash = ?, hash = ? WHERE seq = ?",
                         (entry.prev_hash, prev, row["seq"]))
        conn.execute("UPDATE audit_head SET hash = ? WHERE id = 1", (prev,))


async def test_a_chain_recomputed_with_the_database_alone_fails_verification(
    intake: Intake,
) -> None:
    for _ in range(3):
        await intake.submit()
    database = intake.hub.services["referral"].database
    key = key_of(intake)
    async with database.unit_of_work() as uow:
        assert await seal_head(uow, key) is not None
        await uow.commit()
        assert (await verify_chain(uow, key))[1] == []

    recompute_chain(intake.data_dir / "referral.db", seq=2, actor="someone-else")

    async with database.unit_of_work() as uow:
        count, unkeyed = await verify_chain(uow)
        assert count == 3 and unkeyed == [], "the unkeyed chain alone is fooled"
        _, keyed = await verify_chain(uow, key)
    assert [p.problem for p in keyed] == [
        "the chain up to here has been rewritten since it was sealed"]

    with sqlite3.connect(intake.data_dir / "referral.db") as conn:
        conn.execute("DELETE FROM audit_seals")
    async with database.unit_of_work() as uow:
        _, unsealed = await verify_chain(uow, key, now=utcnow() + timedelta(minutes=5))
    assert len(unsealed) == 1 and "3 entries from here on are not sealed" in unsealed[0].problem


async def test_a_seal_made_without_the_hubs_key_is_refused(intake: Intake) -> None:
    await intake.submit()
    database = intake.hub.services["referral"].database
    async with database.unit_of_work() as uow:
        await seal_head(uow, b"a key guessed by someone with the database")
        await uow.commit()
        _, problems = await verify_chain(uow, key_of(intake))
    assert [p.problem for p in problems] == ["its seal was not made with this hub's key"]


async def test_a_checkpoint_kept_elsewhere_proves_nothing_before_it_was_rewritten(
    intake: Intake, tmp_path: Path,
) -> None:
    for _ in range(2):
        await intake.submit()
    database = intake.hub.services["referral"].database
    key = key_of(intake)
    async with database.unit_of_work() as uow:
        taken = await checkpoint(uow, key)
        await uow.commit()
    assert taken is not None and taken.seq == 2
    kept = tmp_path / "checkpoint.json"
    kept.write_text(json.dumps(taken.as_json()))
    await intake.submit()  # the log goes on after the checkpoint

    async with database.unit_of_work() as uow:
        assert (await verify_chain(uow, key, taken))[1] == []
    recompute_chain(intake.data_dir / "referral.db", seq=1, actor="someone-else")
    with sqlite3.connect(intake.data_dir / "referral.db") as conn:
        conn.execute("DELETE FROM audit_seals")  # and the seals with it
    async with database.unit_of_work() as uow:
        _, problems = await verify_chain(uow, key, taken)
    assert "checkpoint: the chain up to here has been rewritten since it was sealed" in [
        p.problem for p in problems]


async def referrals_then_stop(data_dir: Path, referrals: int) -> None:
    """Run the hub on ``data_dir``, take ``referrals`` referrals, and stop it (as `mash up`
    stops: the chain's head sealed)."""
    hub, client, running = await start_hub(hub_settings(data_dir))
    try:
        intake = Intake(hub, client, data_dir, load_credentials(data_dir), {})
        for _ in range(referrals):
            await intake.submit()
    finally:
        await client.aclose()
        await running.__aexit__(None, None, None)  # type: ignore[attr-defined]


def mash_audit(*args: str) -> subprocess.CompletedProcess[str]:
    mash = str(Path(sys.executable).with_name("mash"))
    return subprocess.run([mash, "audit", *args], capture_output=True, text=True, timeout=60,
                          check=False)


async def test_mash_audit_checkpoint_and_verify_on_the_command_line(
    demo_data_dir: Path, tmp_path: Path,
) -> None:
    await referrals_then_stop(demo_data_dir, 1)
    taken = mash_audit("checkpoint", "--data-dir", str(demo_data_dir))
    assert taken.returncode == 0, taken.stderr
    document = json.loads(taken.stdout)
    assert set(document) == {"seq", "hash", "sealed_at", "mac"}
    kept = tmp_path / "checkpoint.json"
    kept.write_text(taken.stdout)
    verified = mash_audit("verify", "--data-dir", str(demo_data_dir), "--checkpoint", str(kept))
    assert verified.returncode == 0, verified.stdout
    assert f"matches the checkpoint at entry {document['seq']}" in verified.stdout
    kept.write_text(json.dumps({**document, "hash": "0" * 64}))
    forged = mash_audit("verify", "--data-dir", str(demo_data_dir), "--checkpoint", str(kept))
    assert forged.returncode == 1
    assert "checkpoint: its seal was not made with this hub's key" in forged.stdout


async def refusals(intake: Intake, record_type: str) -> list[AuditEntry]:
    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        found = await uow.session.exec(select(AuditEntry).where(
            col(AuditEntry.action) == "refused", col(AuditEntry.record_type) == record_type))
        return list(found.all())


async def test_refused_reads_are_audited_as_refusals(intake: Intake) -> None:
    police_referral = (await intake.submit()).json()["id"]
    health = await intake.as_client(HEALTH)
    other = await intake.client.get(f"/api/v1/referrals/{police_referral}", headers=health)
    assert other.status_code == 404
    missing = await intake.client.get("/api/v1/referrals/no-such-referral", headers=health)
    assert missing.status_code == 404
    request = await intake.client.get("/api/v1/information-requests/no-such-request",
                                      headers=health)
    assert request.status_code == 404
    refused = await refusals(intake, "referral")
    assert [(e.record_id, e.actor_kind) for e in refused] == [
        (police_referral, "client"), ("no-such-referral", "client")]
    assert [e.record_id for e in await refusals(intake, "information_request")] == [
        "no-such-request"]
    csrf = await intake.as_user("mash.practitioner")
    review = await intake.client.get("/api/v1/match-reviews/no-such-review", headers=csrf)
    person = await intake.client.get("/api/v1/people/no-such-person", headers=csrf)
    assert review.status_code == person.status_code == 404
    assert [e.record_id for e in await refusals(intake, "match_review")] == ["no-such-review"]
    assert [e.record_id for e in await refusals(intake, "person")] == ["no-such-person"]
    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        assert (await verify_chain(uow))[1] == []


async def test_searches_are_audited_with_their_terms(intake: Intake) -> None:
    await intake.submit()
    csrf = await intake.as_user("mash.manager")
    found = await intake.client.get("/api/v1/referrals", headers=csrf,
                                    params={"q": "Example", "status": "received"})
    assert found.status_code == 200
    queue = await intake.client.get("/api/v1/referrals/queue", headers=csrf,
                                    params={"rag": "red"})
    assert queue.status_code == 200
    intake.client.cookies.clear()
    csrf = await intake.as_user("auditor")
    log = (await intake.client.get("/api/v1/audit", headers=csrf,
                                   params={"action": "search"})).json()["items"]
    details = [entry["detail"] for entry in log]
    assert {"rag": "red"} in details
    assert {"q": "Example", "status": "received"} in details


async def test_impossible_dates_of_birth_and_the_zero_nhs_number_are_refused(
    intake: Intake,
) -> None:
    for subject, field in ((child(date_of_birth="1899-12-31"), "date_of_birth"),
                           (child(nhs_number="0000000000"), "nhs_number")):
        answer = await intake.submit(referral_body(subjects=[subject]))
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["loc"][-1] == field


VERIFY_AND_LIST_LOADED = """
import sys
from mash.cli import main
try:
    main(["audit", "verify", "--data-dir", sys.argv[1]])
except SystemExit as stop:
    print("loaded:", sorted(m for m in ("sqlalchemy", "pydantic", "fastapi", "aiosqlite")
                            if m in sys.modules))
    raise
"""


async def test_verify_on_a_data_directory_loads_no_orm_and_finds_what_the_hub_check_finds(
    demo_data_dir: Path,
) -> None:
    await referrals_then_stop(demo_data_dir, 3)

    def verify(**environment: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", VERIFY_AND_LIST_LOADED,
                               str(demo_data_dir)], capture_output=True, text=True,
                              timeout=60, check=False, env={**os.environ, **environment})

    # The same file named by MASH_REFERRAL_DATABASE_URL: the command reads the settings
    # and checks through the ORM, as it does for a deployment's database.
    url = f"sqlite+aiosqlite:///{(demo_data_dir / 'referral.db').resolve()}"

    def both() -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
        return verify(), verify(MASH_REFERRAL_DATABASE_URL=url)

    quick, through_orm = both()
    assert "loaded: []" in quick.stdout
    assert "'sqlalchemy'" in through_orm.stdout
    assert quick.returncode == through_orm.returncode == 0, quick.stdout + quick.stderr
    intact = quick.stdout.splitlines()[0]
    assert intact == through_orm.stdout.splitlines()[0]
    assert int(intact.split("audit log intact: ")[1].split(" entries")[0]) >= 3

    with sqlite3.connect(demo_data_dir / "referral.db") as conn:
        conn.execute("DROP TRIGGER audit_entries_no_update")
        conn.execute("UPDATE audit_entries SET purpose = 'routine' WHERE seq = 2")
        conn.execute("UPDATE audit_seals SET mac = printf('%064d', 0)")
    quick, through_orm = both()
    assert quick.returncode == through_orm.returncode == 1
    findings = [line for line in quick.stdout.splitlines() if line.startswith("audit ")]
    assert findings == [line for line in through_orm.stdout.splitlines()
                        if line.startswith("audit ")]
    assert "audit entry 2: has been changed since it was written" in findings
    assert any("its seal was not made with this hub's key" in line for line in findings)
