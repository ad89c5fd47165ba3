"""The OpenAPI 3 document, generated from the route table and the parameter bounds (so it cannot drift).

Served at ``/openapi.json``. Schemathesis fuzzes the API from this very document in the test suite: every
documented parameter bound must be enforced, and every response must match the schemas below.
"""

from __future__ import annotations

from typing import Any

from api import params
from api.routes import ROUTES, Route
from api.upstream import DOWN_MEMORY, MAX_EXTRA_PAGES, MAX_RETRY_AFTER
from fediscope import __version__
from fediscope.analysis import PLAIN_PARTLY_WRITTEN_ADVICE, READ_ATTEMPTS

#: A 405 of a route that takes HEAD: every route but the records routes.
METHOD_NOT_ALLOWED = "Method not allowed on this route; the Allow header lists those it takes."

ERROR_STATUSES = {
    "400": "A parameter is missing, malformed or out of bounds (the error names it), the request has a body, "
           "(invalid_host) an HTTP/1.1 request has no Host header, an empty one, several or one naming no host, "
           "or (repeated_api_key) X-API-Key was sent more than once with different values.",
    "401": "No X-API-Key header, or a key that is not configured.",
    "403": "The instance is not on the allowlist (FEDISCOPE_INSTANCES), resolves to a non-public address, "
           "or a read-only key called a write method.",
    "404": "No such route, or the account/tag does not exist on the instance.",
    "405": "Method not allowed on this route; the Allow header lists those it takes (GET, OPTIONS). HEAD is "
           "refused too, before the API key is checked: its status and headers would be the instance's answer, "
           "a request to the instance for headers only.",
    "413": "Request body larger than the cap.",
    "414": "Request line (method, path and query string) longer than the server's cap (16 KiB).",
    "429": "Too many requests for this API key, or the instance throttled us; retry after Retry-After seconds.",
    "431": "Request line and headers larger than the server's cap (16 KiB in all).",
    "500": "(internal_error) A bug in the server: the server log has the traceback.",
    "502": "The instance failed, timed out, or answered with something unusable. (upstream_unavailable) When it "
           "was found down (502, 503, 504 or no answer, after the retry) it is not asked again for Retry-After "
           "seconds: the requests for it are answered 503 upstream_down until then.",
    "503": "The lake's erasure suppression list cannot be read, so records cannot be filtered safely, "
           "malformed upstream data cannot be written to the lake's quarantine, (key_mismatch) the lake was "
           "landed with another pseudonym key or privacy mode than this API's, or (upstream_down) the instance "
           f"failed or timed out less than {DOWN_MEMORY:g} s ago (502, 503, 504 or no answer; longer when its "
           f"Retry-After asked, at most {MAX_RETRY_AFTER} s) and is not asked again before then: retry after "
           "Retry-After seconds.",
}

#: The routes naming an account add theirs.
ERASED_ACCOUNT = ("(erased_account) The account was erased on request (fediscope gdpr erase): nothing of it is "
                  "served, and the instance is not asked; remove it from the sources that ask for it.")

#: The results routes (api.results) read the metrics store and contact no instance.
RESULTS_ERROR_STATUSES = {
    "400": "A parameter is unknown, repeated, malformed or out of bounds (the error names it; a path name "
           "outside its pattern too), the request has a body, (invalid_host) an HTTP/1.1 request has no Host "
           "header, an empty one, several or one naming no host, or (repeated_api_key) X-API-Key was sent more "
           "than once with different values.",
    "401": "No X-API-Key header, or a key that is not configured.",
    "403": "A read-only key called a write method.",
    "404": "No such route or analysis, no metric of that name (neither a SQL file nor stored), or the store does not "
           "hold the metric yet (run fediscope process).",
    "405": METHOD_NOT_ALLOWED,
    "409": "The stored metric is not what this fediscope version reads: its table lacks a column, a value has "
           "another type, or the rows lack a column the analysis reads (as when another fediscope version stored "
           "it); re-run fediscope process. Or (missing_table) the store's catalog lists the metric but its table "
           "was dropped by hand: run fediscope process to write it again. Or (stale_cursor) the metric was "
           "written again since the page whose next.after was given, or was being written while a page was read "
           f"({PLAIN_PARTLY_WRITTEN_ADVICE}): start again from the first page. Or (written_while_read) the "
           "metric was written again while a first page (no after) or an analysis was read, each of the "
           f"{READ_ATTEMPTS} times it was read (its rows would mix two writes): retry once the write is done. Or "
           "(cursor_too_long) the next page's cursor "
           "would be longer than after takes (a key of many long text columns): fediscope store export reads "
           "every row.",
    "413": "Request body larger than the cap.",
    "414": "Request line (method, path and query string) longer than the server's cap (16 KiB).",
    "429": "Too many requests for this API key; retry after Retry-After seconds.",
    "431": "Request line and headers larger than the server's cap (16 KiB in all).",
    "500": "(metric_definition_error) A metric definition on the server, one of its metric SQL files, cannot be "
           "read; the server log has the reason. A retry does not help until the operator fixes the file. Or "
           "(internal_error) a bug in the server: the server log has the traceback.",
    "503": "The metrics store (FEDISCOPE_STORE) cannot be reached or read.",
}

_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "required": True,
                                "schema": {"type": "integer", "minimum": 0}}}
#: a 502 that found the instance down says how long it is left alone; another passes on the Retry-After of the
#: instance's own 5xx answer, when it sent one
_UPSTREAM_RETRY_AFTER = {"Retry-After": {
    **_RETRY_AFTER["Retry-After"], "required": False,
    "description": f"(upstream_unavailable) When the instance was found down (502, 503, 504 or no answer), the "
                   f"seconds until it is asked again (meanwhile 503 upstream_down): {DOWN_MEMORY:g}, or its "
                   f"Retry-After when longer (at most {MAX_RETRY_AFTER}). After another 5xx, the seconds its "
                   "answer's Retry-After asked (at most the same), when it said."}}
#: RFC 9110 section 15.5.6: a 405 names the methods the route takes
_ALLOW = {"Allow": {"description": "The methods the route takes, comma-separated (GET, HEAD, OPTIONS; a records "
                                   "route: GET, OPTIONS).", "required": True, "schema": {"type": "string"}}}
_ERROR_HEADERS = {"405": _ALLOW, "429": _RETRY_AFTER, "502": _UPSTREAM_RETRY_AFTER}
#: the records routes' 503 upstream_down says when the instance is asked again (their other 503s say no time)
_RECORDS_ERROR_HEADERS = {**_ERROR_HEADERS, "503": {"Retry-After": {
    **_RETRY_AFTER["Retry-After"], "required": False,
    "description": "(upstream_down) Seconds until the instance is asked again."}}}

COMPONENTS: dict[str, Any] = {
    "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                                   "description": "One of the keys in FEDISCOPE_API_KEY. Sent more than once "
                                                  "(a proxy may duplicate it), all values must be that same key."}},
    "schemas": {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {
                "type": "object",
                "required": ["status", "code", "message"],
                "properties": {
                    "status": {"type": "integer"},
                    "code": {"type": "string", "description": "Stable machine-readable error word."},
                    "message": {"type": "string", "description": "What went wrong and what to do next."},
                    "parameter": {"type": "string", "description": "The offending request parameter."},
                    "setting": {"type": "string", "description": "The setting that controls this refusal."},
                    "retry_after": {"type": "integer"},
                    "upstream_status": {"type": "integer", "description": "HTTP status the instance gave."},
                },
            }},
        },
        "Meta": {
            "type": "object",
            "required": ["instance", "endpoint", "fetched_at", "collector", "schema_version"],
            "properties": {
                "instance": {"type": "string"},
                "endpoint": {"type": "string"},
                "fetched_at": {"type": "string", "format": "date-time"},
                "collector": {"type": "string"},
                "schema_version": {"type": "integer"},
            },
        },
        "Record": {
            "type": "object",
            "description": "One lake record: the Mastodon entity after the privacy policy, in its envelope.",
            "required": ["meta", "data"],
            "properties": {"meta": {"$ref": "#/components/schemas/Meta"}, "data": {}},
        },
        "RecordsPage": {
            "type": "object",
            "required": ["records", "count", "next", "prev", "instance", "source", "skipped", "opted_out",
                         "quarantined"],
            "properties": {
                "records": {"type": "array", "items": {"$ref": "#/components/schemas/Record"}},
                "count": {"type": "integer", "minimum": 0},
                "next": {"type": "object", "nullable": True,
                         "properties": {"max_id": {"type": "string"}, "offset": {"type": "integer", "minimum": 0}},
                         "description": "Cursor of the next page, or null at the end: max_id (older statuses) on "
                                        "the timelines, offset on the routes paged by offset (/v1/trends/tags). "
                                        "Never the id of a status skipped for its author (api/README.md)."},
                "prev": {"type": "object", "nullable": True, "required": ["min_id"],
                         "properties": {"min_id": {"type": "string"}},
                         "description": "Cursor of newer items, or null. Never the id of a status skipped for "
                                        "its author (api/README.md)."},
                "instance": {"type": "string"},
                "source": {"type": "string"},
                "skipped": {"type": "integer", "minimum": 0,
                            "description": "Items the privacy policy left out (of accounts that opted out or were "
                                           "erased, statuses that are not public, boosts of these), on every page "
                                           "the instance was asked for to answer this one: a page of nothing but "
                                           "statuses skipped for their author has the API fetch up to "
                                           f"{MAX_EXTRA_PAGES} more (api/README.md)."},
                "opted_out": {"type": "integer", "minimum": 0,
                              "description": "Of skipped: the items whose own account opted out (noindex, #nobot …). "
                                             "A count only: which accounts is never said."},
                "quarantined": {"type": "integer", "minimum": 0},
            },
        },
        # null rides on the string branch: OpenAPI 3.0.3 gives `nullable` effect only beside a `type`, so on the
        # oneOf itself it allowed nothing, and strict validators refused every row holding a NULL
        "Row": {"type": "object", "description": "One stored row: column name → string, number, boolean or null. "
                                                 "A column its metric lists in timestamps (GET /v1/metrics) is a "
                                                 "date-time string, RFC 3339 in UTC (2026-11-01T12:00:00Z); date "
                                                 "columns are YYYY-MM-DD.",
                "additionalProperties": {"oneOf": [
                    {"type": "string", "nullable": True}, {"type": "number"}, {"type": "boolean"}]}},
        "AnalysisList": {
            "type": "object",
            "required": ["analyses", "period", "provenance"],
            "properties": {
                "analyses": {"type": "array", "items": {
                    "type": "object",
                    "required": ["name", "metric", "question", "stored"],
                    "properties": {"name": {"type": "string"}, "metric": {"type": "string"},
                                   "question": {"type": "string"},
                                   "stored": {"type": "boolean", "description": "The store holds its metric."}},
                }},
                "period": {"type": "object", "nullable": True,
                           "description": "The days the analyses cover, as `fediscope report --format json` gives "
                                          "its period (first_day, last_day, first_day_partial, last_day_partial, "
                                          "latest_fetch_day, days, metric); null when posted_days cannot be read "
                                          "by this version (re-run fediscope process)."},
                "provenance": {"type": "object", "required": ["runs", "metrics", "unrecorded"],
                               "description": "What computed the stored metrics, as the report's provenance "
                                              "without its report part: runs, metrics, unrecorded."},
            },
        },
        "Analysis": {
            "type": "object",
            "required": ["name", "title", "question", "metric", "columns", "rows", "summary"],
            "properties": {
                "name": {"type": "string"},
                "title": {"type": "string"},
                "question": {"type": "string"},
                "metric": {"type": "string", "description": "The stored metric the analysis reads."},
                "columns": {"type": "array", "items": {"type": "string"}},
                "rows": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}},
                "summary": {"type": "object", "description": "Headline numbers (totals, shares)."},
            },
        },
        "MetricList": {
            "type": "object",
            "required": ["metrics"],
            "properties": {
                "metrics": {"type": "array", "items": {
                    "type": "object",
                    "required": ["name", "question", "key", "prefix", "rank", "timestamps", "stored", "rows",
                                 "sql_file"],
                    "properties": {
                        "name": {"type": "string"},
                        "question": {"type": "string", "description": "Its SQL file's question; without the file, "
                                                                      "the one the store recorded."},
                        "key": {"type": "array", "items": {"type": "string"}},
                        "prefix": {"type": "string", "description": "The key column prefix reads match."},
                        "rank": {"type": "object", "nullable": True, "required": ["column", "order"],
                                 "properties": {"column": {"type": "string"},
                                                "order": {"type": "string", "enum": ["asc", "desc"]}}},
                        "timestamps": {"type": "array", "items": {"type": "string"},
                                       "description": "Its columns holding a moment in time (its SQL file's "
                                                      "'-- timestamps:' line): each row gives them as strings of "
                                                      "format date-time, RFC 3339 in UTC with Z "
                                                      "(2026-11-01T12:00:00Z, fractional seconds when stored). "
                                                      "Empty for a metric without its SQL file: the store does not "
                                                      "record them, so they come as stored."},
                        "stored": {"type": "boolean"},
                        "rows": {"type": "integer", "nullable": True, "minimum": 0},
                        "sql_file": {"type": "boolean",
                                     "description": "A SQL file of spark_jobs/sql/ or FEDISCOPE_METRICS_DIR defines "
                                                    "it. False: a metric the store holds whose file is gone (deleted, "
                                                    "or in a FEDISCOPE_METRICS_DIR not given to the API), served by "
                                                    "the key, rank and prefix the store recorded, until `fediscope "
                                                    "store drop` removes it."},
                    },
                }},
            },
        },
        "MetricRows": {
            "type": "object",
            "required": ["metric", "question", "prefix", "order", "limit", "count", "rows", "next"],
            "properties": {
                "metric": {"type": "string"},
                "question": {"type": "string"},
                "prefix": {"type": "object", "nullable": True, "required": ["column", "value"],
                           "properties": {"column": {"type": "string"}, "value": {}},
                           "description": "The prefix column and the value matched, or null for rank order."},
                "order": {"type": "string", "enum": ["rank", "key"],
                          "description": "rank: by the rank column (ties by key); key: by the key columns."},
                "limit": {"type": "integer"},
                "count": {"type": "integer", "minimum": 0},
                "rows": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}},
                "next": {"type": "object", "nullable": True, "required": ["after"],
                         "properties": {"after": {"type": "string", "pattern": params.AFTER_PATTERN}},
                         "description": "The next page: the same request with after set to this value; null on "
                                        "the last page."},
            },
        },
    },
}

#: the documented query parameters of the results routes (bounds from api.params)
_COUNT_SCHEMA = {"type": "integer", "minimum": params.RESULTS_MIN, "maximum": params.RESULTS_MAX}
RESULTS_PARAMETERS: dict[str, dict[str, Any]] = {
    "n": {"description": f"Rows to show (default {params.DEFAULT_N}), as `fediscope report --top`.",
          "schema": _COUNT_SCHEMA},
    "prefix": {"description": "Only the rows whose prefix column (GET /v1/metrics names it) equals this value, in "
                              "key order: one account's, one instance's or one day's rows. Without it, the first "
                              "rows by the metric's rank column.",
               "schema": {"type": "string", "minLength": 1, "maxLength": params.PREFIX_MAX_LENGTH}},
    "limit": {"description": f"At most this many rows (default {params.DEFAULT_LIMIT}).", "schema": _COUNT_SCHEMA},
    "after": {"description": "The next page: the next.after of the page before (the same metric, prefix and "
                             "order), unchanged. Pages are read from the store from where the last one stopped; "
                             "a cursor of a page read before the metric was written again, or while it was being "
                             "written, is 409 stale_cursor.",
              "schema": {"type": "string", "pattern": params.AFTER_PATTERN, "maxLength": params.AFTER_MAX_LENGTH}},
}
_RESULTS_SCHEMAS = {"analyses": "AnalysisList", "analysis": "Analysis", "metrics": "MetricList",
                    "metric_rows": "MetricRows"}


def _query_parameters(route: Route) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"name": "instance", "in": "query", "required": True,
         "description": "The instance to fetch from (must be on the allowlist), e.g. mastodon.social.",
         "schema": {"type": "string", "pattern": params.INSTANCE_PATTERN,
                    "maxLength": params.INSTANCE_MAX_LENGTH},
         "example": "mastodon.social"},
    ]
    for name, what in (("since_id", "Return items newer than this id."),
                       ("max_id", "Return items older than this id (the next page)."),
                       ("min_id", "Return items immediately newer than this id.")):
        out.append({"name": name, "in": "query", "required": False,
                    "description": f"{what} An id as the instance writes it: digits on Mastodon, ASCII letters and "
                                   "digits on other servers (GoToSocial's ULIDs, Pleroma's FlakeIds); the answer's "
                                   "next and prev give it.",
                    "schema": {"type": "string", "pattern": params.ID_PATTERN, "minLength": 1,
                               "maxLength": params.ID_MAX_LENGTH}})
    out.append({"name": "limit", "in": "query", "required": False,
                "description": "Items per page (Mastodon caps pages at 40); default FEDISCOPE_PAGE_LIMIT (40). "
                               "Accepted but not applied by /v1/instance and /v1/instance/activity (which "
                               "answers every week the instance sends).",
                "schema": {"type": "integer", "minimum": params.LIMIT_MIN, "maximum": params.LIMIT_MAX}})
    extra = {
        "local": {"description": "true for the local timeline only.", "schema": {"type": "boolean"}},
        "offset": {"description": "How many items to skip (Mastodon's offset paging): the next page is the "
                                  "answer's next.offset. Default 0.",
                   "schema": {"type": "integer", "minimum": 0, "maximum": params.OFFSET_MAX}},
    }
    for flag in route.flags:
        out.append({"name": flag, "in": "query", "required": False, **extra[flag]})
    return out


def _path_parameters(route: Route) -> list[dict[str, Any]]:
    schemas = {
        # the server's pattern spelled out for ECMA (spec.tag_re's \w is Python's: any script's letters)
        "tag": {"type": "string", "pattern": params.tag_schema_pattern(), "minLength": 1,
                "maxLength": params.TAG_MAX_LENGTH},
        "acct": {"type": "string", "pattern": params.ACCT_PATTERN, "minLength": 1,
                 "maxLength": params.ACCT_MAX_LENGTH},
        "name": {"type": "string", "pattern": params.NAME_PATTERN},
    }
    descriptions = {"tag": "Hashtag without '#' (Mastodon's charset): 1 to 100 letters and digits of any script "
                           "(café, 日本), with their combining marks (हिन्दी), underscores, the middle dots · (U+00B7) "
                           "and ・ (U+30FB) and the zero-width non-joiner (U+200C); anything else is 400. The pattern "
                           "spells out the characters of Unicode's Basic Multilingual Plane; letters beyond it (CJK "
                           "Extension B) are taken too.",
                    "acct": "user or user@domain.",
                    "name": "The analysis or metric name, as the list route gives it."}
    return [{"name": name, "in": "path", "required": True, "description": descriptions[name],
             "schema": schemas[name]} for name in route.path_params]


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description,
                           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if headers:
        out["headers"] = headers
    return out


#: What /health and /openapi.json may answer besides 200 (no key, parameter or instance is involved; a bug: 500).
_PUBLIC_STATUSES = frozenset({"400", "404", "405", "413", "414", "431", "500"})
_PUBLIC_ERRORS = {**{k: v for k, v in ERROR_STATUSES.items() if k in _PUBLIC_STATUSES}, "405": METHOD_NOT_ALLOWED}


def _operation(route: Route) -> dict[str, Any]:
    responses: dict[str, Any]
    if route.records:
        responses = {"200": {
            "description": "One page of records.",
            "headers": {"Link": {"description": "RFC 8288 links: rel=\"next\" (older; it keeps the request's "
                                                "since_id, so a walk down to a checkpoint ends there), "
                                                "rel=\"prev\" (newer).",
                                 "schema": {"type": "string"}}},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RecordsPage"}}},
        }}
        wanted = ERROR_STATUSES
    elif route.results is not None:
        schema = {"$ref": f"#/components/schemas/{_RESULTS_SCHEMAS[route.endpoint]}"}
        responses = {"200": {"description": route.summary + ".", "content": {"application/json": {"schema": schema}}}}
        if "after" in route.results:
            responses["200"]["headers"] = {"Link": {"description": 'RFC 8288 link rel="next" to the next page, '
                                                                   "when there is one.", "schema": {"type": "string"}}}
        wanted = RESULTS_ERROR_STATUSES
    elif route.endpoint == "health":
        responses = {"200": {"description": "The server runs.", "content": {"application/json": {"schema": {
            "type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}}}}}
        wanted = _PUBLIC_ERRORS
    else:
        responses = {"200": {"description": "The OpenAPI document.",
                             "content": {"application/json": {"schema": {"type": "object"}}}}}
        wanted = _PUBLIC_ERRORS
    if "acct" in route.path_params:
        wanted = {**wanted, "410": ERASED_ACCOUNT}
    headers = _RECORDS_ERROR_HEADERS if route.records else _ERROR_HEADERS
    for status, text in sorted(wanted.items()):
        responses[status] = _error(text, headers.get(status))
    operation: dict[str, Any] = {
        "operationId": route.endpoint,
        "summary": route.summary,
        "description": route.description,
        "parameters": _path_parameters(route) + (_query_parameters(route) if route.records else [])
        + [{"name": name, "in": "query", "required": False, **RESULTS_PARAMETERS[name]}
           for name in route.results or ()],
        "responses": responses,
    }
    if route.public:
        operation["security"] = []
    return operation


def build_document(version: str = __version__) -> dict[str, Any]:
    """The whole OpenAPI 3.0 document."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "fediscope API",
            "version": version,
            "description": "Fetches public Mastodon data from allowlisted instances and returns it as lake "
                           "records (the same envelope, paging and privacy policy as `fediscope collect`), and "
                           "serves the stored metrics and the report's analyses (/v1/metrics, /v1/analyses). "
                           "Every error has the same JSON shape (Error). Send X-API-Key on every /v1 route.",
        },
        "paths": {route.openapi_path: {"get": _operation(route)} for route in ROUTES},
        "components": COMPONENTS,
        "security": [{"ApiKey": []}],
    }
