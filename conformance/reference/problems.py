"""Error responses of the reference servers: TS 29.122 ProblemDetails, never internals.

TS 29.558 7.7 makes the EDGE APIs answer errors as TS 29.122 5.2.6 does: a body of media type
``application/problem+json`` holding ``ProblemDetails`` (``type``, ``title``, ``status``,
``detail``, ``cause``, ``invalidParams``). Request handlers raise :class:`Refusal` at the
first check that fails; the app turns it into the response, so every handler reads as the
list of checks it makes. Bodies never carry tracebacks, key material or token contents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE = "about:blank"
"""RFC 9457 4.2: the title is then the HTTP reason phrase's meaning; ``cause`` says the rest."""

InvalidParam = tuple[str, str]
"""``(param, reason)``: ``param`` is a JSON pointer into the body (``/ueId``) or a header name."""


def problem(
    status: int,
    title: str,
    detail: str,
    cause: str | None = None,
    invalid_params: Sequence[InvalidParam] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A ProblemDetails response with ``status`` repeated in the body, as TS 29.122 wants."""
    body: dict[str, Any] = {"type": PROBLEM_TYPE, "title": title, "status": status, "detail": detail}
    if cause is not None:
        body["cause"] = cause
    if invalid_params:
        body["invalidParams"] = [{"param": param, "reason": reason} for param, reason in invalid_params]
    return JSONResponse(body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON)


@dataclass(eq=False)  # exceptions keep identity equality and stay hashable
class Refusal(Exception):
    """A request refused by a check: raise it, the app answers with :meth:`response`."""

    status: int
    title: str
    detail: str
    cause: str | None = None
    invalid_params: Sequence[InvalidParam] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.cause or self.title}: {self.detail}")

    def response(self) -> Response:
        return problem(self.status, self.title, self.detail, self.cause, self.invalid_params, self.headers)


def bad_request(detail: str, param: str | None = None, cause: str = "INVALID_REQUEST") -> Refusal:
    """400: the request itself is malformed; ``param`` names the offending member."""
    params = [(param, detail)] if param else []
    return Refusal(400, "Bad Request", detail, cause, params)


def forbidden(detail: str, cause: str) -> Refusal:
    """403: the EEC is known (or not) but may not do this."""
    return Refusal(403, "Forbidden", detail, cause)


@dataclass(eq=False)
class OAuthError(Exception):
    """An RFC 6749 5.2 token-endpoint error: ``{"error": ..., "error_description": ...}``.

    The token endpoint speaks OAuth 2.0, not TS 29.122, so its errors are not ProblemDetails.
    """

    status: int
    error: str
    description: str

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.error}: {self.description}")

    def response(self) -> Response:
        body = {"error": self.error, "error_description": self.description}
        return JSONResponse(body, status_code=self.status, headers=NO_STORE)


NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
"""RFC 6749 5.1: token responses (and their errors) must not be cached."""


async def refusal_handler(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for :class:`Refusal` and :class:`OAuthError`."""
    assert isinstance(exc, Refusal | OAuthError)
    return exc.response()


async def plain_refusal_handler(request: Request, exc: Exception) -> Response:
    """The ``*.plain-error-bodies`` fault: the right status, but a text/plain body, not ProblemDetails."""
    assert isinstance(exc, Refusal)
    return PlainTextResponse(f"{exc.status} refused", status_code=exc.status, headers=dict(exc.headers))


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Routing errors (404, 405) as ProblemDetails too, keeping Starlette's headers (``Allow``)."""
    assert isinstance(exc, HTTPException)
    detail = f"{request.method} {request.url.path}: {exc.detail}"
    return problem(exc.status_code, exc.detail, detail, headers=exc.headers)


async def internal_error_handler(request: Request, exc: Exception) -> Response:
    """A bug in the reference: 500 without a trace of the internals (the server log has them)."""
    detail = "The reference server failed; see its log."
    return problem(500, "Internal Server Error", detail, "SYSTEM_FAILURE")


EXCEPTION_HANDLERS = {
    Refusal: refusal_handler,
    OAuthError: refusal_handler,
    HTTPException: http_exception_handler,
    Exception: internal_error_handler,
}
"""Pass as ``Starlette(exception_handlers=...)``."""
