"""Pydantic bases the services' models share."""

from __future__ import annotations

import warnings

from pydantic import BaseModel, ConfigDict
from pydantic.warnings import UnsupportedFieldAttributeWarning


class Schema(BaseModel):
    """The base of the services' request, response and event models.

    Each model's validator and serialiser are built when the model is first used, not
    when its class is defined (``defer_build``): importing the services defines some 190
    models, and building them all up front was about a tenth of a restart of `mash up`
    (bench/startup.py), most of it for models a given process may never use. A model's
    first use builds it once, in a few milliseconds (the referral body: 4 ms)."""

    model_config = ConfigDict(defer_build=True)


# FastAPI wraps a request body's model in a TypeAdapter with the parameter's alias
# (``Annotated[Model, Field(alias="body")]``), where pydantic warns that an alias does
# nothing. FastAPI silences that warning while it makes the adapter; with the model's
# build deferred, the adapter is built at the first request instead, outside FastAPI's
# silencing, and the same warning (the same no-op) would be shown there.
warnings.filterwarnings("ignore", category=UnsupportedFieldAttributeWarning,
                        message=r"The 'alias' attribute with value ")


class Strict(Schema):
    """Unknown fields are an error, not silently ignored: a caller learns at once of a
    misspelt field."""

    model_config = ConfigDict(extra="forbid")


class StrictStripped(Strict):
    """Strict, and text stripped of surrounding white space."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
