"""One JSON error envelope for every failure the API can answer with.

Every non-2xx response, whether raised by our own validation, by Flask's routing (404, 405), by an upstream
instance (429, 502) or by a bug (500), has the same shape, so a client (a NiFi flow, a script) needs one parser::

    {"error": {"status": 400, "code": "invalid_parameter", "message": "limit must be …", "parameter": "limit"}}

``code`` is a stable machine-readable word; ``message`` is for people and says what to do next. Optional
members (``parameter``, ``setting``, ``retry_after``) add the detail a client can act on. The document in
:mod:`api.openapi` describes this envelope as the ``Error`` schema.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

from fediscope.errors import MetricFileError

log = logging.getLogger(__name__)

#: HTTP status → default error code, for errors raised by Flask/werkzeug rather than by us.
DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "body_too_large",
    414: "uri_too_long",
    429: "rate_limited",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_implemented",
    502: "upstream_error",
    503: "unavailable",
}


class ApiError(Exception):
    """An expected failure: raise it anywhere in a request and it becomes the JSON error envelope.

    ``headers`` are added to the response (``Retry-After`` on 429, ``Allow`` on 405); ``extra`` members go into
    the envelope next to ``status``, ``code`` and ``message``.
    """

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.extra = {k: v for k, v in extra.items() if v is not None}


def bad_parameter(parameter: str, message: str) -> ApiError:
    """400 for one request parameter; the envelope names the parameter."""
    return ApiError(400, "invalid_parameter", message, parameter=parameter)


def envelope(error: ApiError) -> dict[str, Any]:
    """The JSON body of an error answer (the module docstring's shape)."""
    return {"error": {"status": error.status, "code": error.code, "message": error.message, **error.extra}}


def error_response(error: ApiError) -> Response:
    response = jsonify(envelope(error))
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def to_api_error(exc: BaseException) -> ApiError:
    """Any exception → the ApiError to answer with. Unknown exceptions become a 500 that reveals nothing."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        headers: dict[str, str] = {}
        allowed = ", ".join(sorted(getattr(exc, "valid_methods", None) or ()))
        if status == 405 and allowed:
            headers["Allow"] = allowed
        message = {
            404: "no such route; see /openapi.json for the routes this API serves",
            # the body names them too: a client that logs the answer's body (NiFi) shows no headers
            405: f"method not allowed on this route, which takes {allowed} (the Allow header); see /openapi.json"
            if allowed else "method not allowed on this route; see /openapi.json",
        }.get(status, exc.description or exc.name)
        return ApiError(status, DEFAULT_CODES.get(status, "http_error"), message, headers=headers)
    if isinstance(exc, MetricFileError):
        return metric_definition_error(exc)
    log.error("unhandled error while serving a request", exc_info=exc)
    return ApiError(500, "internal_error", "internal error; the server log has the details")


def metric_definition_error(exc: MetricFileError) -> ApiError:
    """500 for a metric SQL file on the server that is not a metric (a user's own, in ``FEDISCOPE_METRICS_DIR``
    or ``spark_jobs/sql/``): every route that reads the metric registry fails until the file is fixed, whatever
    the request, so not a 4xx, and not worth retrying (no ``Retry-After``). The file and the reason go to the
    server log only, as the store's."""
    log.error("a metric definition cannot be read: %s", exc)
    return ApiError(500, "metric_definition_error", "a metric definition on the server (a SQL file of the metric "
                    "registry) cannot be read; the server log has the reason")


def handle_any(exc: BaseException) -> Response:
    """The one error handler registered on the app and on the flask-restful Api."""
    return error_response(to_api_error(exc))
