"""The `mash` command: `mash up` runs the embedded hub; `serve`, `relay`, `migrate` deploy it.

The web stack and the services are imported by the commands that need them, not here:
`mash audit verify`, say, starts without loading FastAPI, uvicorn or the services' apps.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from shared.names import SERVICE_NAMES

if TYPE_CHECKING:
    from mash.gateway import Hub
    from services.referral.audit.hashchain import ChainProblem, Checkpoint
    from shared.db import Database
    from shared.service import Service
    from shared.settings import Settings

T = TypeVar("T")


def _configure(settings: Settings) -> None:
    """What every command sets up first: logging, and the hub's clock."""
    from shared import clock
    from shared.logs import configure_logging

    configure_logging(settings.log_level)
    clock.start_at(settings.clock_start)


def _environment_settings() -> Settings:
    """Settings from the MASH_ environment, with logging and the clock configured."""
    from shared.settings import Settings

    settings = Settings()
    _configure(settings)
    return settings


def _run(work: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine (asyncio is loaded by the commands that need it)."""
    import asyncio

    return asyncio.run(work)


def embedded_settings(data_dir: Path, **fields: object) -> Settings:
    """Settings for the hub's data in ``data_dir``: private files, and the directory's own
    secret unless MASH_SECRET_KEY is set. Logging is configured."""
    from pydantic import SecretStr

    from mash.datadir import PRIVATE_UMASK, hub_secret, make_private
    from shared.logs import configure_logging
    from shared.settings import Settings

    os.umask(PRIVATE_UMASK)
    configure_logging(os.environ.get("MASH_LOG_LEVEL", "INFO"))
    make_private(data_dir)
    secret = hub_secret(data_dir)
    if secret is not None:
        fields["secret_key"] = SecretStr(secret)
    settings = Settings(data_dir=data_dir, **fields)  # type: ignore[arg-type]
    _configure(settings)
    return settings


def _up(args: argparse.Namespace) -> None:
    from shared.runtime import pause_collection

    pause_collection()  # until the hub is up (freeze_start_up_objects)
    from mash.demo import CREDENTIALS, start_demo_secrets

    # A first start hashes the demo's passwords on the second core while this one imports
    # the services (about 0.8 s of a first start when it came after them).
    first_start = not (Path(args.data_dir) / CREDENTIALS).exists()
    demo_secrets = start_demo_secrets() if first_start else None
    import uvicorn

    from mash.gateway import Hub, create_hub_app
    from shared import otel
    from shared.runtime import freeze_start_up_objects

    base_url = f"http://{args.host}:{args.port}"
    settings = embedded_settings(Path(args.data_dir), base_url=base_url,
                                 broker_url="memory://", referral_database_url=None,
                                 notify_database_url=None, identity_database_url=None)
    otel.configure_from_environment("mash")
    hub = Hub(settings, demo=True, demo_secrets=demo_secrets)

    async def announce(hub: Hub) -> None:
        credentials = hub.demo_credentials.resolve()
        print(f"\nMASH referral hub: {base_url}/", flush=True)
        print(f"  API reference:   {base_url}/docs  (OpenAPI: {base_url}/openapi.json)",
              flush=True)
        print(f"  Data directory:  {settings.data_dir.resolve()}", flush=True)
        if hub.demo_created:
            # Only the path: a terminal's scroll-back or a captured log is no place for
            # passwords or TOTP secrets.
            print(f"  Demo agencies, users and API clients created. Sign-in details (passwords,\n"
                  f"  TOTP secrets as otpauth:// URIs for an authenticator app, client secrets,\n"
                  f"  private keys) are in {credentials} (readable by you only)",
                  flush=True)
        else:
            print(f"  Demo sign-in details: {credentials}", flush=True)
        print("  Stop with Ctrl+C; start again with the same command: nothing is lost.\n",
              flush=True)

    async def freeze(_hub: Hub) -> None:
        freeze_start_up_objects()

    hub.startup_hooks += [announce, freeze]
    app = create_hub_app(settings, hub=hub)
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)


IDENTITY = "identity"


def _service(name: str, settings: Settings) -> Service:
    from mash.topology import SERVICES
    from shared.broker import broker_from_settings

    return SERVICES[name](settings, broker_from_settings(settings), None)


def _database(name: str, settings: Settings) -> Database:
    """A service's database alone, for a command that needs nothing else of it."""
    from shared.db import Database

    return Database(settings.database_url(name))


def _serve(args: argparse.Namespace) -> None:
    from shared.runtime import pause_collection

    pause_collection()  # until the service is up (freeze_start_up_objects)
    import uvicorn

    from shared import otel

    settings = _environment_settings()
    otel.configure_from_environment(f"mash-{args.service}")
    app = _service(args.service, settings).standalone_app(
        migrate=args.migrate, relay=not args.no_relay, freeze_start_up=True)
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)


async def _relay_forever(names: list[str], settings: Settings) -> None:
    import asyncio

    from mash.topology import SERVICES
    from shared.broker import broker_from_settings

    broker = broker_from_settings(settings)
    services = [SERVICES[name](settings, broker, None) for name in names]
    await broker.connect()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        for service in services:
            service.relay.start()
        await stop.wait()
    finally:
        for service in services:
            await service.stop()
        await broker.close()


def _relay(args: argparse.Namespace) -> None:
    from shared import otel

    settings = _environment_settings()
    if settings.uses_memory_broker:
        sys.exit("mash relay needs MASH_BROKER_URL (RabbitMQ); `mash up` relays in-process")
    otel.configure_from_environment("mash-relay")
    names = args.services or list(SERVICE_NAMES)
    if args.port is None:
        _run(_relay_forever(names, settings))
        return
    import uvicorn

    from mash.relay_app import relay_app

    uvicorn.run(relay_app(names, settings), host=args.host, port=args.port, log_config=None,
                access_log=False)


async def _demo_data(settings: Settings, data_dir: Path) -> None:
    from mash.demo import create_demo_data

    service = _service(IDENTITY, settings)
    await service.migrate()
    async with service.database.unit_of_work() as uow:
        created = await create_demo_data(uow, data_dir, settings)
        await uow.commit()
    await service.database.dispose()
    if created:
        print(f"demo agencies, users and API clients created: {created.resolve()}", flush=True)
    else:
        print("identity already has agencies: no demo data written", flush=True)


def _demo(args: argparse.Namespace) -> None:
    settings = _environment_settings()
    _run(_demo_data(settings, Path(args.data_dir)))


async def _migrate_all(names: list[str], settings: Settings) -> None:
    services = [_service(name, settings) for name in names]
    for service in services:
        await service.migrate()
        await service.database.dispose()
        print(f"{service.name}: migrated", flush=True)
    if not settings.uses_memory_broker:
        await _declare_queues(services, settings)


async def _declare_queues(services: list[Service], settings: Settings) -> None:
    """Every consumer's queue, so events published before it first starts wait for it
    (identity's agency events after `mash demo`, say)."""
    from shared.broker import BrokerUnavailable, broker_from_settings

    broker = broker_from_settings(settings)
    try:
        await broker.connect()
        for service in services:
            for subscription in service.subscriptions:
                await broker.declare(subscription.queue, subscription.topics)
        print(f"broker: queues of {', '.join(s.name for s in services)} declared", flush=True)
    except BrokerUnavailable as exc:
        print(f"broker: queues not declared ({exc}); `mash serve` declares them on start",
              flush=True)
    finally:
        await broker.close()


def _migrate(args: argparse.Namespace) -> None:
    settings = _environment_settings()
    _run(_migrate_all(args.services or list(SERVICE_NAMES), settings))


async def _rotate_keys(settings: Settings, lead_seconds: int | None) -> None:
    from datetime import timedelta

    from services.identity.keys import KeyStore

    service = _service(IDENTITY, settings)
    await service.migrate()
    keys = KeyStore(service.database, settings)
    await keys.ensure_key()
    key = await keys.rotate(lead=None if lead_seconds is None else timedelta(seconds=lead_seconds))
    await service.database.dispose()
    print(f"new signing key {key.kid}: published now, signs from {key.signs_from.isoformat()}; "
          "older keys stay published until the tokens they signed have expired", flush=True)


def _settings_of(args: argparse.Namespace) -> Settings:
    """Settings for a command taking ``--data-dir``, with logging configured."""
    if args.data_dir:
        return embedded_settings(Path(args.data_dir))
    return _environment_settings()


def _keys(args: argparse.Namespace) -> None:
    settings = _settings_of(args)
    _run(_rotate_keys(settings, args.lead_seconds))


async def _verify_audit(settings: Settings,
                        checkpoint: Checkpoint | None) -> tuple[int, list[ChainProblem]]:
    from services.referral.audit.chain import verify_chain
    from services.referral.audit.seals import seal_key

    key = seal_key(settings.secret_key.get_secret_value())
    database = _database("referral", settings)
    try:
        async with database.unit_of_work() as uow:
            return await verify_chain(uow, key, checkpoint)
    finally:
        await database.dispose()


def _verify_data_dir(data_dir: Path,
                     checkpoint: Checkpoint | None) -> tuple[int, list[ChainProblem]]:
    """`mash up`'s referral database checked with the standard library alone: the same
    checks as ``_verify_audit``, without loading the settings or the ORM."""
    from datetime import UTC, datetime

    from mash.datadir import SECRET_ENV, hub_secret
    from services.referral.audit.hashchain import seal_key, verify_sqlite
    from shared.names import DEFAULT_SECRET

    database = data_dir / "referral.db"
    if not database.is_file():
        print(f"no referral database in {data_dir}", flush=True)
        sys.exit(2)
    # The secret embedded_settings gives the hub: MASH_SECRET_KEY, else the directory's.
    secret = os.environ.get(SECRET_ENV) or hub_secret(data_dir) or DEFAULT_SECRET
    return verify_sqlite(database, seal_key(secret), checkpoint, datetime.now(UTC))


# Settings that move `mash up`'s referral database or its clock: with one of them set,
# verification reads the settings (the slower path), as the hub does.
_EMBEDDED_OVERRIDES = ("MASH_REFERRAL_DATABASE_URL", "MASH_CLOCK_START")


def _audit(args: argparse.Namespace) -> None:
    from services.referral.audit.hashchain import Checkpoint

    checkpoint = None
    if args.checkpoint:
        try:
            checkpoint = Checkpoint.from_json(json.loads(Path(args.checkpoint).read_text()))
        except (OSError, ValueError) as exc:
            print(f"cannot read the checkpoint {args.checkpoint}: {exc}", flush=True)
            sys.exit(2)
    if args.data_dir and not any(os.environ.get(name) for name in _EMBEDDED_OVERRIDES):
        count, problems = _verify_data_dir(Path(args.data_dir), checkpoint)
    else:
        count, problems = _run(_verify_audit(_settings_of(args), checkpoint))
    for problem in problems:
        print(f"audit entry {problem.seq}: {problem.problem}", flush=True)
    if problems:
        print(f"audit log NOT intact: {len(problems)} problem(s) in {count} entries", flush=True)
        sys.exit(1)
    against = f", and matches the checkpoint at entry {checkpoint.seq}" if checkpoint else ""
    print(f"audit log intact: {count} entries, each chained to the one before and sealed"
          f"{against}", flush=True)
    sys.exit(0)


async def _sealed_head(settings: Settings) -> dict[str, object] | None:
    """The audit chain's head, sealed now (None: the log is empty)."""
    from services.referral.audit.seals import checkpoint, seal_key

    database = _database("referral", settings)
    try:
        async with database.unit_of_work() as uow:
            taken = await checkpoint(uow, seal_key(settings.secret_key.get_secret_value()))
            await uow.commit()
    finally:
        await database.dispose()
    return taken.as_json() if taken is not None else None


async def _take_checkpoint(settings: Settings, post_to: str | None) -> int:
    taken = await _sealed_head(settings)
    if taken is None:
        print("the audit log is empty: nothing to checkpoint", file=sys.stderr, flush=True)
        return 1
    document = json.dumps(taken)
    print(document, flush=True)
    if post_to:
        import httpx

        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(post_to, content=document,
                                       headers={"content-type": "application/json"})
        if answer.is_error:
            print(f"the checkpoint was not accepted: HTTP {answer.status_code}",
                  file=sys.stderr, flush=True)
            return 1
    return 0


def _checkpoint(args: argparse.Namespace) -> None:
    settings = _settings_of(args)
    sys.exit(_run(_take_checkpoint(settings, args.post or settings.audit_checkpoint_url)))


async def _index_existing(settings: Settings) -> int:
    from services.referral.people.linking import index_earlier_subjects

    database = _database("referral", settings)
    total = 0
    try:
        while True:
            async with database.unit_of_work() as uow:
                linked = await index_earlier_subjects(uow)
                await uow.commit()
            if not linked:
                break
            total += linked
            print(f"{total} subjects linked to people", flush=True)
    finally:
        await database.dispose()
    print(f"done: {total} subjects from before the person index linked", flush=True)
    return 0


def _people(args: argparse.Namespace) -> None:
    settings = _settings_of(args)
    sys.exit(_run(_index_existing(settings)))


async def _replay_events(settings: Settings, queue: str | None, dry_run: bool) -> int:
    """Put dead letters back: in `mash up` from each service's database to its outbox, in
    a deployment from each RabbitMQ dead-letter queue to its queue."""
    from shared.broker import broker_from_settings
    from shared.outbox import replay_dead_letters

    services = [_service(name, settings) for name in SERVICE_NAMES]
    queues = {sub.queue for s in services for sub in s.subscriptions}
    if queue is not None and queue not in queues:
        print(f"unknown queue {queue!r}; one of {sorted(queues)}", flush=True)
        return 2
    found: list[tuple[str, str]] = []
    try:
        if settings.uses_memory_broker:
            for service in services:
                found += await replay_dead_letters(service.database, queue, dry_run=dry_run)
        else:
            broker = broker_from_settings(settings)
            await broker.connect()
            try:
                for name in sorted(queues if queue is None else {queue}):
                    ids = await broker.replay_dead_letters(name, dry_run=dry_run)
                    found += [(name, event_id) for event_id in ids]
            finally:
                await broker.close()
    finally:
        for service in services:
            await service.database.dispose()
    for name, event_id in found:
        print(f"{name}\t{event_id}", flush=True)
    done = "would be replayed (dry run: nothing changed)" if dry_run else "replayed"
    print(f"{len(found)} dead letter(s) {done}", flush=True)
    return 0


def _events(args: argparse.Namespace) -> None:
    settings = _settings_of(args)
    sys.exit(_run(_replay_events(settings, args.queue, args.dry_run)))


def _service_name(value: str) -> str:
    if value not in SERVICE_NAMES:
        raise argparse.ArgumentTypeError(
            f"unknown service {value!r}; one of {sorted(SERVICE_NAMES)}")
    return value


async def _import_referrals(settings: Settings, args: argparse.Namespace) -> int:
    import time

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from mash.importer import count_lines, import_file, write_rejects

    path = Path(args.file)
    service = _service("referral", settings)
    rejects = Path(args.rejects or f"{path}.rejected.csv")
    started = time.monotonic()
    try:
        await service.migrate()
        columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]:>7.0f}/s"), TimeRemainingColumn())
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task("import", total=count_lines(path), rate=0.0)

            def advance(lines: int) -> None:
                done = bar.tasks[0].completed + lines
                bar.update(task, advance=lines,
                           rate=done / max(time.monotonic() - started, 1e-9))

            tally = await import_file(service.database, path, args.agency, batch=args.batch,
                                      progress=advance)
    finally:
        await service.database.dispose()
    seconds = time.monotonic() - started
    if tally.rejected:
        write_rejects(rejects, tally)
    print(f"{tally.imported} imported, {tally.already_there} already held, {tally.rejected} "
          f"rejected{f' (see {rejects})' if tally.rejected else ''}; {tally.lines} lines in "
          f"{seconds:.1f} s, {tally.lines / max(seconds, 1e-9):.0f} a second", flush=True)
    return 1 if tally.rejected else 0


def _import(args: argparse.Namespace) -> None:
    if not Path(args.file).is_file():
        print(f"no such file: {args.file}", file=sys.stderr, flush=True)
        sys.exit(2)
    settings = _settings_of(args)
    sys.exit(_run(_import_referrals(settings, args)))


def _backup(args: argparse.Namespace) -> None:
    from mash.backup import BackupError, write_backup

    data_dir, target = Path(args.data_dir), Path(args.to)
    if not (data_dir / "referral.db").exists():
        print(f"no `mash up` data in {data_dir}", file=sys.stderr, flush=True)
        sys.exit(2)
    if target.exists():
        print(f"backup not made: {target} exists: give a new file name", file=sys.stderr,
              flush=True)
        sys.exit(2)
    settings = embedded_settings(data_dir)
    try:
        sealed = _run(_sealed_head(settings))
        made = write_backup(data_dir, target, sealed)
    except BackupError as exc:
        print(f"backup not made: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    print(f"backup written to {made.path} (readable by you only): "
          f"{', '.join(made.databases)} and {len(made.files)} other files; the audit log "
          f"sealed at entry {made.checkpoint_seq}", flush=True)


def _restore(args: argparse.Namespace) -> None:
    from mash.backup import CHECKPOINT, BackupError, restore_backup

    data_dir = Path(args.data_dir)
    try:
        manifest = restore_backup(Path(args.source), data_dir)
    except BackupError as exc:
        print(f"not restored: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    print(f"restored the backup made at {manifest['made_at']} into {data_dir}.\n"
          f"  Check it:  mash audit verify --data-dir {data_dir} --checkpoint "
          f"{data_dir / CHECKPOINT}\n  Start it:  mash up --data-dir {data_dir}", flush=True)


def build_parser() -> argparse.ArgumentParser:
    """The command line of `mash`."""
    parser = argparse.ArgumentParser(prog="mash", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser(
        "up", help="run the whole hub in one process (SQLite, in-process broker)"
    )
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--data-dir", default=".mash", help="where the SQLite files and demo "
                    "credentials live (default: ./.mash)")
    up.set_defaults(func=_up)

    serve = commands.add_parser("serve", help="run one service (configured by MASH_* variables)")
    serve.add_argument("service", choices=sorted(SERVICE_NAMES))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--migrate", action="store_true", help="apply migrations on start")
    serve.add_argument("--no-relay", action="store_true",
                       help="leave publishing this service's outbox to `mash relay` processes")
    serve.set_defaults(func=_serve)

    relay = commands.add_parser("relay", help="publish the services' outboxes to RabbitMQ")
    relay.add_argument("services", nargs="*", metavar="SERVICE", type=_service_name,
                       help="default: every service")
    relay.add_argument("--host", default="127.0.0.1",
                       help="where --port listens (default: 127.0.0.1)")
    relay.add_argument("--port", type=int, default=None,
                       help="also answer /healthz, /readyz and /metrics on this port "
                            "(for an orchestrator's probes; default: serve nothing)")
    relay.set_defaults(func=_relay)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("services", nargs="*", metavar="SERVICE", type=_service_name,
                         help="default: every service")
    migrate.set_defaults(func=_migrate)
    demo = commands.add_parser(
        "demo", help="create the demo agencies, users and API clients in an empty identity "
                     "database (deployment mode; `mash up` does this itself)")
    demo.add_argument("--data-dir", default=".mash",
                      help="credentials are written to DIR/demo (default: ./.mash)")
    demo.set_defaults(func=_demo)

    audit = commands.add_parser("audit", help="check the access audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify", help="recompute the hash chain; exit 1 if an entry was changed or removed")
    verify.add_argument("--data-dir", default=None,
                        help="for `mash up` data: the data directory (default: MASH_ settings)")
    verify.add_argument("--checkpoint", default=None, metavar="FILE",
                        help="a checkpoint from `mash audit checkpoint`, kept away from the "
                             "hub: also prove nothing up to it was rewritten")
    verify.set_defaults(func=_audit)
    sealed = audit_commands.add_parser(
        "checkpoint", help="seal the audit chain's head and print it (JSON) to keep elsewhere")
    sealed.add_argument("--data-dir", default=None,
                        help="for `mash up` data: the data directory (default: MASH_ settings)")
    sealed.add_argument("--post", default=None, metavar="URL",
                        help="also POST it to URL (default: MASH_AUDIT_CHECKPOINT_URL, if set)")
    sealed.set_defaults(func=_checkpoint)

    people = commands.add_parser("people", help="the person index")
    people_commands = people.add_subparsers(dest="people_command", required=True)
    index_existing = people_commands.add_parser(
        "index-existing", help="link the subjects of referrals received before the person "
                               "index to people (run once after upgrading; safe to repeat)")
    index_existing.add_argument("--data-dir", default=None, help="for `mash up` data: the "
                                "data directory (default: MASH_ settings)")
    index_existing.set_defaults(func=_people)

    events = commands.add_parser("events", help="the events consumers gave up on")
    events_commands = events.add_subparsers(dest="events_command", required=True)
    replay = events_commands.add_parser(
        "replay", help="put dead letters back on their queue, to be handled again (once: "
                       "consumers ignore an event they have handled)")
    replay.add_argument("--queue", default=None,
                        help="only this queue's (e.g. notify.partner-events; default: all)")
    replay.add_argument("--dry-run", action="store_true",
                        help="list what would be replayed; change nothing")
    replay.add_argument("--data-dir", default=None,
                        help="for `mash up` data: the data directory (default: MASH_ settings)")
    replay.set_defaults(func=_events)

    imports = commands.add_parser(
        "import", help="bring a legacy system's referrals in (NDJSON, or CSV by dotted "
                       "column names), through intake's validation, person index and audit; "
                       "run again after an interruption: lines already held are skipped")
    imports.add_argument("file", metavar="FILE")
    imports.add_argument("--agency", required=True, metavar="AGENCY_ID",
                         help="the referring agency of lines that do not name theirs "
                              "(referring_agency_id)")
    imports.add_argument("--rejects", default=None, metavar="PATH",
                         help="where the lines not imported go, with the reason "
                              "(default: FILE.rejected.csv)")
    imports.add_argument("--batch", type=int, default=200,
                         help="referrals per transaction (default 200)")
    imports.add_argument("--data-dir", default=None,
                         help="for `mash up` data: the data directory (default: MASH_ settings)")
    imports.set_defaults(func=_import)

    backup = commands.add_parser(
        "backup", help="copy a `mash up` data directory while the hub runs (each SQLite "
                       "database by its online backup API, a sealed audit checkpoint, the "
                       "hub's secret) into one archive, readable by you only")
    backup.add_argument("--data-dir", default=".mash")
    backup.add_argument("--to", required=True, metavar="FILE", help="a new .tar.gz file")
    backup.set_defaults(func=_backup)
    restore = commands.add_parser(
        "restore", help="unpack a backup into a new data directory, checking every file")
    restore.add_argument("--from", dest="source", required=True, metavar="FILE")
    restore.add_argument("--data-dir", required=True, help="a new, empty directory")
    restore.set_defaults(func=_restore)

    keys = commands.add_parser("keys", help="manage identity's token-signing keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    rotate = keys_commands.add_parser(
        "rotate", help="publish a new signing key; it signs after the lead time")
    rotate.add_argument("--lead-seconds", type=int, default=None,
                        help="how long the new key is published before it signs "
                             "(default: MASH_KEY_PUBLISH_LEAD_SECONDS, 600)")
    rotate.add_argument("--data-dir", default=None,
                        help="for `mash up` data: the data directory (default: MASH_ settings)")
    rotate.set_defaults(func=_keys)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `mash` console script."""
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
