"""RFC 9457 problem details (``application/problem+json``) for every error."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import (
    AlreadyDecided,
    DomainError,
    InvalidTransition,
    InvalidValue,
    NotAllowed,
    NotFound,
    StaleVersion,
    VersionRequired,
)
from shared.outages import CANDIDATES, RETRY_AFTER_SECONDS, is_outage
from shared.tracing import REQUEST_ID_SCOPE_KEY, request_id_var

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://mash.example/problems/"

log = logging.getLogger(__name__)


class Problem(Exception):
    """Raise from domain or HTTP code to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type_: str | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type_
        self.title = title
        self.errors = errors
        self.headers = headers


# How each domain refusal is answered: status, title and type (None: the status's own).
DOMAIN_PROBLEMS: dict[type[DomainError], tuple[int, str | None, str | None]] = {
    NotFound: (404, None, None),
    NotAllowed: (403, "Forbidden", None),
    InvalidTransition: (409, "Not possible in this status", PROBLEM_BASE + "invalid-transition"),
    AlreadyDecided: (409, "Already decided", PROBLEM_BASE + "already-decided"),
    StaleVersion: (412, "Changed by someone else", PROBLEM_BASE + "stale-version"),
    VersionRequired: (428, "If-Match required", None),
    InvalidValue: (422, "Validation failed", None),
}


def problem_of(error: DomainError) -> Problem:
    """The problem document that answers a domain refusal."""
    for kind in type(error).__mro__:
        if kind in DOMAIN_PROBLEMS:
            status, title, type_ = DOMAIN_PROBLEMS[kind]
            return Problem(status, error.detail, title=title, type_=type_, errors=error.errors)
    return Problem(400, error.detail, errors=error.errors)


def _slug(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "-").replace("'", "")
    except ValueError:
        return "error"


def problem_response(
    status: int,
    detail: str,
    *,
    type_: str | None = None,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """A ``application/problem+json`` response."""
    try:
        default_title = HTTPStatus(status).phrase
    except ValueError:
        default_title = "Error"
    body: dict[str, Any] = {
        "type": type_ or PROBLEM_BASE + _slug(status),
        "title": title or default_title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    request_id = request_id_var.get()
    if request_id:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _loc(loc: tuple[Any, ...] | list[Any]) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in loc]


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as ``{loc, msg}`` pairs that name the field and never echo input."""
    return [{"loc": _loc(err.get("loc", ())), "msg": err.get("msg", "invalid")}
            for err in exc.errors()]


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a problem document: HTTP, validation and unhandled ones."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc.status, exc.detail, type_=exc.type, title=exc.title,
                                errors=exc.errors, headers=exc.headers,
                                instance=request.url.path)

    async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return await on_problem(request, problem_of(exc))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem_response(exc.status_code, detail, headers=dict(exc.headers or {}),
                                instance=request.url.path)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(
            422,
            "The request is not valid: see errors for each field.",
            type_=PROBLEM_BASE + "validation",
            title="Validation failed",
            errors=validation_errors(exc),
            instance=request.url.path,
        )

    async def on_unhandled(request: Request, exc: Exception) -> JSONResponse:
        # This runs outside the request-context middleware, whose context has been
        # reset by now; the request id it set is still in the scope.
        token = request_id_var.set(request.scope.get(REQUEST_ID_SCOPE_KEY))
        try:
            log.error("unhandled error", exc_info=exc)
            return problem_response(
                500,
                "Something went wrong on our side. Nothing was changed; quote the request id "
                "if you contact the hub.",
                instance=request.url.path,
            )
        finally:
            request_id_var.reset(token)

    async def on_storage_error(request: Request, exc: Exception) -> JSONResponse:
        # A handler for these classes (not Exception's) runs inside the app, and the
        # error goes no further: the server keeps the client's connection open.
        if not is_outage(exc):
            return await on_unhandled(request, exc)
        token = request_id_var.set(request.scope.get(REQUEST_ID_SCOPE_KEY))
        try:
            log.warning("storage unavailable", extra={"error_type": type(exc).__name__})
            return unavailable_response(instance=request.url.path)
        finally:
            request_id_var.reset(token)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    for exc_class in CANDIDATES:
        app.add_exception_handler(exc_class, on_storage_error)
    app.add_exception_handler(Exception, on_unhandled)


def unavailable_response(*, instance: str | None = None) -> JSONResponse:
    """503 with ``Retry-After``: storage is away for a moment; the request may be retried."""
    return problem_response(
        503,
        "The hub cannot reach its storage for a moment. Send the same request again after "
        "Retry-After seconds, with the same Idempotency-Key: it is never acted on twice.",
        title="Service unavailable",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        instance=instance,
    )
