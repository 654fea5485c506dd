"""Pydantic bases the services' request bodies share."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Unknown fields are an error, not silently ignored: a caller learns at once of a
    misspelt field."""

    model_config = ConfigDict(extra="forbid")


class StrictStripped(Strict):
    """Strict, and text stripped of surrounding white space."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
