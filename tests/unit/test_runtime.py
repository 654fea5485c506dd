"""Start-up: objects kept out of the garbage collector's full collections, and what importing the
hub builds and loads."""

from __future__ import annotations

import gc
import subprocess
import sys

from shared.runtime import freeze_start_up_objects, pause_collection


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
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                          timeout=120, check=True)
    count, built, loaded = done.stdout.strip().split(" ", 2)
    assert int(count) > 100  # the services' request, response and event models
    assert (built, loaded) == ("[]", "[]")
