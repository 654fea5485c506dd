"""Start-up: objects kept out of the garbage collector's full collections, and what importing the
hub builds and loads."""

from __future__ import annotations

import gc
import subprocess
import sys

from shared.runtime import freeze_start_up_objects, pause_collection


def in_a_fresh_interpreter(code: str) -> str:
    """What ``code`` prints, run by a new Python process (as a start of `mash up` is)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stdout.strip()


def test_objects_alive_at_start_up_are_frozen_and_later_ones_are_not() -> None:
    before = gc.get_freeze_count()
    start_up = [{"built": "at start-up"} for _ in range(1000)]
    try:
        freeze_start_up_objects()
        frozen = gc.get_freeze_count()
        assert frozen >= before + len(start_up)
        later = [{"built": "by a request"} for _ in range(1000)]
        assert gc.get_freeze_count() == frozen, "a request's objects are collected as before"
        assert gc.is_tracked(later)
    finally:
        gc.unfreeze()


def test_collection_paused_for_start_up_goes_on_once_start_up_objects_are_frozen() -> None:
    pause_collection()
    try:
        assert not gc.isenabled()
        freeze_start_up_objects()
        assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_importing_the_hub_builds_none_of_the_services_models_and_loads_no_alembic() -> None:
    """Start-up cost: each model's validator is built at its first use (shared.schemas),
    Alembic and fhir.resources are loaded only when a migration or a FHIR request needs
    them. A fresh interpreter, as a start of `mash up` is. A model that derives from
    pydantic's BaseModel instead of Schema is built at import, and shows here; the tables
    and the settings are built at import on purpose."""
    check = (
        "import sys\n"
        "import mash.gateway\n"
        "from pydantic import BaseModel\n"
        "from pydantic_settings import BaseSettings\n"
        "def below(cls):\n"
        "    for sub in cls.__subclasses__():\n"
        "        yield sub\n"
        "        yield from below(sub)\n"
        "ours = {m for m in below(BaseModel)\n"
        "        if m.__module__.split('.')[0] in ('services', 'shared', 'mash')\n"
        "        and not hasattr(m, '__table__') and not issubclass(m, BaseSettings)}\n"
        "built = sorted(m.__qualname__ for m in ours if m.__pydantic_complete__)\n"
        "print(len(ours), built, [m for m in ('alembic', 'fhir') if m in sys.modules])\n")
    count, built, loaded = in_a_fresh_interpreter(check).split(" ", 2)
    assert int(count) > 100  # the services' request, response and event models
    assert (built, loaded) == ("[]", "[]")


def test_mash_up_begins_a_first_starts_hashing_before_it_imports_the_services() -> None:
    """`mash up` imports mash.demo first and starts the demo's argon2 hashing on a thread,
    so the hashing overlaps the import of the services. That only helps while mash.demo
    itself loads none of them, nor the ORM or the web framework."""
    check = (
        "import sys\n"
        "import mash.demo\n"
        "heavy = ('sqlalchemy', 'sqlmodel', 'fastapi', 'pydantic', 'services.identity.service',\n"
        "         'services.identity.passwords', 'shared.settings', 'shared.db')\n"
        "print([m for m in heavy if m in sys.modules])\n")
    assert in_a_fresh_interpreter(check) == "[]"


def test_a_hub_made_ready_to_start_has_loaded_no_http_client() -> None:
    """The webhook and peer-hub clients are made at their first request: httpx (with its
    command line's rich) is not loaded by making the hub's services."""
    check = (
        "import sys, tempfile\n"
        "from pathlib import Path\n"
        "from mash.gateway import Hub, create_hub_app\n"
        "from shared.settings import Settings\n"
        "settings = Settings(data_dir=Path(tempfile.mkdtemp()), broker_url='memory://')\n"
        "create_hub_app(settings, hub=Hub(settings))\n"
        "print([m for m in ('httpx', 'rich') if m in sys.modules])\n")
    assert in_a_fresh_interpreter(check) == "[]"
