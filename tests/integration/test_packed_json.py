"""Match explanations are stored packed (shared.db.PackedJSON) and read back unchanged;
migration 0065 packs the rows written before it, and its downgrade unpacks them."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection
from sqlmodel import select

from services.referral.app import MIGRATIONS
from services.referral.people.models import MatchReview, PersonLink
from shared.db import Database, pack_json, unpack_json
from shared.migrations import alembic_config

COMPARISONS = [
    {"field": "given_name", "level": "exact", "agrees": True, "weight": 7.908502737728975,
     "subject_value": "Sam", "candidate_value": "Sam"},
    {"field": "date_of_birth", "level": "missing", "agrees": None, "weight": 0.0,
     "subject_value": "2013-12-10", "candidate_value": None},
    {"field": "postcode", "level": "different", "agrees": False, "weight": -4.475234010358957,
     "subject_value": "S1 7LF", "candidate_value": "S2 4AB"},
]
EXPLANATION = {"total_weight": 3.43, "thresholds": {"lower": 15.0, "upper": 17.0},
               "comparisons": COMPARISONS}
CANDIDATE = {"given_name": "Sam", "other_names": [], "addresses": [{"line1": "1 Road"}]}


def test_packing_keeps_every_value_and_leaves_other_json_alone() -> None:
    packed = pack_json(EXPLANATION)
    assert packed["comparisons"]["$rows"] == list(COMPARISONS[0])
    assert len(json.dumps(packed)) < len(json.dumps(EXPLANATION)) * 0.8
    assert unpack_json(json.loads(json.dumps(packed))) == EXPLANATION
    for plain in ([], [{"a": 1}], [{"a": 1}, {"b": 2}], [1, {"a": 1}], {"x": [1, 2]}, None):
        assert unpack_json(pack_json(plain)) == plain
    assert unpack_json(EXPLANATION) == EXPLANATION  # written before packing: as it is


def _to(revision: str, step: Any) -> Any:
    def run(connection: Connection) -> None:
        step(alembic_config(MIGRATIONS, "referral", connection), revision)
    return run


async def _raw(database: Database) -> dict[str, str]:
    async with database.engine.connect() as conn:
        link = (await conn.execute(sa.text(
            "SELECT CAST(explanation AS TEXT) FROM person_links"))).scalar()
        review = (await conn.execute(sa.text(
            "SELECT CAST(comparisons AS TEXT) FROM match_reviews"))).scalar()
    return {"link": str(link), "review": str(review)}


async def test_the_migration_packs_old_rows_and_the_downgrade_unpacks_them(
    database_url: str,
) -> None:
    database = Database(database_url)
    try:
        async with database.engine.begin() as conn:
            await conn.run_sync(_to("0064", command.upgrade))
            await conn.execute(sa.text(
                "INSERT INTO person_links (id, subject_id, referral_id, person_id, method, "
                "weight, explanation, decided_by, decided_at, reason) VALUES ('l-1', 's-1', "
                "'r-1', 'p-1', 'probabilistic', 3.43, :explanation, 'mash.person-index', "
                "CURRENT_TIMESTAMP, 'synthetic')"), {"explanation": json.dumps(EXPLANATION)})
            await conn.execute(sa.text(
                "INSERT INTO match_reviews (id, status, created_at, referral_id, subject_id, "
                "candidate_person_id, candidate, total_weight, thresholds, comparisons) VALUES "
                "('m-1', 'open', CURRENT_TIMESTAMP, 'r-1', 's-1', 'p-2', :candidate, 3.43, "
                ":thresholds, :comparisons)"),
                {"candidate": json.dumps(CANDIDATE), "thresholds": json.dumps({"lower": 15.0}),
                 "comparisons": json.dumps(COMPARISONS)})
        before = await _raw(database)
        async with database.engine.begin() as conn:
            await conn.run_sync(_to("0065", command.upgrade))
        packed = await _raw(database)
        assert '"$rows"' in packed["link"] and '"$rows"' in packed["review"]
        assert len(packed["link"]) < len(before["link"]) * 0.7
        async with database.unit_of_work() as uow:
            link = (await uow.session.exec(select(PersonLink))).one()
            review = (await uow.session.exec(select(MatchReview))).one()
        assert link.explanation == EXPLANATION
        assert (review.comparisons, review.candidate) == (COMPARISONS, CANDIDATE)

        async with database.engine.begin() as conn:
            await conn.run_sync(_to("0064", command.downgrade))
        unpacked = await _raw(database)
        assert json.loads(unpacked["link"]) == EXPLANATION
        assert json.loads(unpacked["review"]) == COMPARISONS
    finally:
        await database.dispose()
