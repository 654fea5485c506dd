"""Start-up objects are kept out of the garbage collector's full collections."""

from __future__ import annotations

import gc

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
