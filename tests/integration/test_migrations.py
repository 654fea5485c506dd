"""Each service's Alembic history builds its tables on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import services.identity.app
import services.identity.models
import services.notify.app
import services.notify.models
import services.referral.app
import services.referral.audit.models
import services.referral.intake.models
import services.referral.people.models
import services.referral.referrals.models
import services.referral.workflow.models
import shared.outbox
from services.identity import service as identity
from services.identity.keys import KeyStore
from services.identity.passwords import new_totp_secret, password_hasher
from shared.broker.memory import InProcessBroker
from shared.migrations import alembic_config, at_head, downgrade, script_heads
from shared.service import Service
from shared.settings import Settings
from tests.auth import current_otp

MESSAGING_TABLES = {"outbox_messages", "inbox_messages"}


@dataclass(frozen=True)
class ServiceSchema:
    name: str
    app: ModuleType
    models: ModuleType
    tables: frozenset[str]
    more_models: tuple[ModuleType, ...] = ()


SERVICES = [
    ServiceSchema("identity", services.identity.app, services.identity.models,
                  frozenset({"agencies", "users", "api_clients", *MESSAGING_TABLES})),
    ServiceSchema("referral", services.referral.app, services.referral.referrals.models,
                  frozenset({"referrals", "reference_counters", "people", "person_records",
                             "person_links", "match_reviews", *MESSAGING_TABLES}),
                  (services.referral.people.models, services.referral.workflow.models,
                   services.referral.intake.models, services.referral.audit.models)),
    ServiceSchema("notify", services.notify.app, services.notify.models,
                  frozenset({"deliveries", *MESSAGING_TABLES})),
]


@pytest.fixture(params=SERVICES, ids=[s.name for s in SERVICES])
def schema(request: pytest.FixtureRequest) -> ServiceSchema:
    param: ServiceSchema = request.param
    return param


@pytest.fixture
async def service(
    schema: ServiceSchema, database_url: str, tmp_path: Path
) -> AsyncIterator[Service]:
    settings = Settings(data_dir=tmp_path, **{f"{schema.name}_database_url": database_url})
    created: Service = schema.app.create_service(settings, InProcessBroker())
    assert created.database.url == database_url
    try:
        yield created
    finally:
        await created.database.dispose()


async def inspect(service: Service, look: Callable[[sa.Inspector], object]) -> object:
    def run(connection: Connection) -> object:
        return look(sa.inspect(connection))

    async with service.database.engine.connect() as conn:
        return await conn.run_sync(run)


async def tables(service: Service) -> set[str]:
    found = await inspect(service, lambda inspector: set(inspector.get_table_names()))
    assert isinstance(found, set)
    return found


async def version(service: Service) -> list[str]:
    async with service.database.engine.connect() as conn:
        version_table = sa.table(f"alembic_version_{service.name}", sa.column("version_num"))
        result = await conn.execute(sa.select(version_table.c.version_num))
        return [row[0] for row in result]


def model_tables(module: ModuleType) -> dict[str, sa.Table]:
    """The tables that ``module``'s SQLModel classes map to."""
    found: dict[str, sa.Table] = {}
    for value in vars(module).values():
        if (isinstance(value, type) and issubclass(value, SQLModel)
                and value.__module__ == module.__name__ and hasattr(value, "__table__")):
            table = value.__table__
            assert isinstance(table, sa.Table)
            found[table.name] = table
    return found


def head(service: Service) -> str:
    """The latest revision in the service's migration history."""
    current = ScriptDirectory(str(service.migrations)).get_current_head()
    assert current is not None
    return current


async def test_migrations_build_the_services_tables_on_a_fresh_database(
    service: Service, schema: ServiceSchema
) -> None:
    assert await tables(service) == set()

    await service.migrate()

    migrated = await tables(service)
    assert schema.tables <= migrated
    assert f"alembic_version_{schema.name}" in migrated
    assert {t for t in migrated if t.startswith("alembic_version")} == {
        f"alembic_version_{schema.name}"
    }, "the service must record its history in its own version table"
    assert await version(service) == [head(service)]


async def test_migrating_an_up_to_date_database_changes_nothing(
    service: Service, schema: ServiceSchema
) -> None:
    await service.migrate()
    async with service.database.engine.begin() as conn:
        await conn.execute(sa.text(
            "INSERT INTO inbox_messages (message_id, consumer, received_at) "
            "VALUES ('m-1', 'c', CURRENT_TIMESTAMP)"
        ))
    before = await tables(service), await version(service)

    await service.migrate()

    assert (await tables(service), await version(service)) == before
    async with service.database.engine.connect() as conn:
        kept = (await conn.execute(sa.text("SELECT count(*) FROM inbox_messages"))).scalar()
    assert kept == 1


async def test_a_database_at_head_is_known_from_the_scripts_text_and_the_version_table(
    service: Service, schema: ServiceSchema
) -> None:
    script_location = service.migrations
    assert script_heads(script_location) == frozenset(
        ScriptDirectory(str(script_location)).get_heads())
    assert not await at_head(service.database, script_location, schema.name)  # no table yet

    await service.migrate()
    assert await at_head(service.database, script_location, schema.name)

    secret = service.settings.secret_key.get_secret_value()
    await downgrade(service.database, script_location, schema.name, "-1", secret_key=secret)
    assert not await at_head(service.database, script_location, schema.name)
    await service.migrate()  # not at head: Alembic runs the latest migration again
    assert await version(service) == [head(service)]


async def test_restarting_on_a_database_at_head_does_not_import_alembic(
    service: Service, schema: ServiceSchema
) -> None:
    await service.migrate()
    check = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from shared.db import Database\n"
        "from shared.migrations import upgrade_to_head\n"
        "async def main():\n"
        "    database = Database(sys.argv[1])\n"
        "    await upgrade_to_head(database, Path(sys.argv[2]), sys.argv[3])\n"
        "    await database.dispose()\n"
        "asyncio.run(main())\n"
        "print('alembic' in sys.modules)\n")
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", check, service.database.url, str(service.migrations),
         schema.name], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False"


def test_scripts_in_a_form_the_text_reader_does_not_know_are_left_to_alembic(
    tmp_path: Path
) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    plain = 'revision: str = "{}"\ndown_revision: str | None = {}\nbranch_labels = None\n'
    (versions / "a.py").write_text(plain.format("a", "None"))
    (versions / "b.py").write_text(plain.format("b", '"a"'))
    (versions / "c.py").write_text(plain.format("c", '"a"'))
    assert script_heads(tmp_path) == frozenset({"b", "c"})  # two branches: two heads

    merge = tmp_path / "merge"
    (merge / "versions").mkdir(parents=True)
    for name in ("a.py", "b.py", "c.py"):
        (merge / "versions" / name).write_text((versions / name).read_text())
    (merge / "versions" / "d.py").write_text(plain.format("d", '("b", "c")'))
    assert script_heads(merge) is None

    labelled = tmp_path / "labelled"
    (labelled / "versions").mkdir(parents=True)
    (labelled / "versions" / "a.py").write_text(
        'revision = "a"\ndown_revision = None\nbranch_labels = ("x",)\n')
    assert script_heads(labelled) is None


async def test_migrated_tables_have_the_columns_the_models_use(
    service: Service, schema: ServiceSchema
) -> None:
    await service.migrate()
    migrated = await tables(service)
    own_models = {**model_tables(schema.models), **model_tables(shared.outbox)}
    for more in schema.more_models:
        own_models.update(model_tables(more))
    assert set(own_models) <= migrated, "a model's table has no migration"

    # Every migrated table that some model maps to has exactly the model's columns.
    mapped = {name: SQLModel.metadata.tables[name] for name in migrated
              if name in SQLModel.metadata.tables}
    assert set(own_models) <= set(mapped)

    def columns(inspector: sa.Inspector) -> dict[str, set[str]]:
        return {name: {c["name"] for c in inspector.get_columns(name)} for name in mapped}

    found = await inspect(service, columns)
    expected = {name: {c.name for c in table.columns} for name, table in mapped.items()}
    assert found == expected


@pytest.mark.parametrize("schema", [SERVICES[0]], ids=["identity"])
async def test_upgrading_an_identity_database_that_holds_agencies_and_users_keeps_them(
    service: Service,
) -> None:
    """A hub started before the school columns existed upgrades with its data in place."""

    def upgrade_to(revision: str) -> Callable[[Connection], None]:
        def run(connection: Connection) -> None:
            command.upgrade(alembic_config(service.migrations, service.name, connection),
                            revision)
        return run

    async with service.database.engine.begin() as conn:
        await conn.run_sync(upgrade_to("0002"))
    async with service.database.engine.begin() as conn:
        await conn.execute(sa.text(
            "INSERT INTO agencies (id, name, kind, active, created_at) "
            "VALUES ('a-1', 'Example school', 'school', true, CURRENT_TIMESTAMP)"))
        await conn.execute(sa.text(
            "INSERT INTO users (id, agency_id, username, display_name, password_hash, "
            "totp_secret, roles, active, created_at) VALUES ('u-1', 'a-1', 'dsl', 'DSL', "
            "'x', 'y', '[]', true, CURRENT_TIMESTAMP)"))

    await service.migrate()

    assert await version(service) == [head(service)]
    async with service.database.engine.connect() as conn:
        rows = (await conn.execute(sa.text(
            "SELECT a.id, a.school_urn, u.username FROM agencies a "
            "JOIN users u ON u.agency_id = a.id"))).all()
    assert [tuple(r) for r in rows] == [("a-1", None, "dsl")]
    # Agencies from before events carried names are announced again, named, for the other
    # services' directories (the board report names agencies and schools).
    async with service.database.engine.connect() as conn:
        payloads = (await conn.execute(sa.text(
            "SELECT payload FROM outbox_messages WHERE event_type = 'mash.agency.updated'"
        ))).scalars().all()
    announced = [json.loads(p)["data"] for p in payloads]
    assert [(a["agency_id"], a["name"], a["kind"]) for a in announced] == [
        ("a-1", "Example school", "school")]


@pytest.mark.parametrize("schema", [SERVICES[0]], ids=["identity"])
async def test_upgrading_encrypts_plain_totp_secrets_so_sign_in_works_and_downgrade_restores(
    service: Service,
) -> None:
    """A copy of an upgraded identity database gives no second factor; codes still work."""
    secret = new_totp_secret()

    def move_to(revision: str, step: Callable[[Config, str], None]) -> Callable[[Connection], None]:
        def run(connection: Connection) -> None:
            step(alembic_config(service.migrations, service.name, connection,
                                secret_key=service.settings.secret_key.get_secret_value()),
                 revision)
        return run

    async with service.database.engine.begin() as conn:
        await conn.run_sync(move_to("0003", command.upgrade))
        await conn.execute(sa.text(
            "INSERT INTO agencies (id, name, kind, active, created_at) "
            "VALUES ('a-1', 'Example school', 'school', true, CURRENT_TIMESTAMP)"))
        await conn.execute(sa.text(
            "INSERT INTO users (id, agency_id, username, display_name, password_hash, "
            "totp_secret, roles, active, created_at) VALUES ('u-1', 'a-1', 'dsl', 'DSL', "
            ":hash, :secret, '[]', true, CURRENT_TIMESTAMP)"),
            {"hash": password_hasher.hash("synthetic password"), "secret": secret})

    await service.migrate()

    async def stored() -> str:
        async with service.database.engine.connect() as conn:
            return str((await conn.execute(sa.text("SELECT totp_secret FROM users"))).scalar())

    assert secret not in await stored()
    keys = KeyStore(service.database, service.settings)
    await keys.ensure_key()
    async with service.database.unit_of_work() as uow:
        signed_in = await identity.sign_in(uow, keys, service.settings, username="dsl",
                                           password="synthetic password",
                                           otp=current_otp(secret))
    assert signed_in is not None

    async with service.database.engine.begin() as conn:
        await conn.run_sync(move_to("0003", command.downgrade))
    assert await stored() == secret
