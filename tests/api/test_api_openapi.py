"""The OpenAPI document matches the app: every Flask route documented and every documented path served;
security headers on every kind of response."""

from __future__ import annotations

import re

import jsonschema
import jsonschema_rs
import pytest
import schemathesis
from api_testing import KEY, OFFLINE_DOMAIN, LiveApi, make_settings
from schemathesis.specs.openapi.definitions import OPENAPI_30

from api import create_app, params
from api.app import SECURITY_HEADERS
from api.openapi import ERROR_STATUSES, RESULTS_ERROR_STATUSES, build_document
from fediscope.sources.spec import tag_re


def _flask_routes() -> dict[str, set[str]]:
    app = create_app(make_settings())
    out: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        out.setdefault(path, set()).update(m.lower() for m in (rule.methods or ()) if m not in {"HEAD", "OPTIONS"})
    return out


def test_every_route_is_documented_and_every_documented_path_is_served() -> None:
    document = build_document()
    documented = {path: set(item) for path, item in document["paths"].items()}
    assert documented == _flask_routes()


def test_the_served_document_is_valid_openapi(checked: LiveApi) -> None:
    document = checked.get("/openapi.json", key=None).json()
    assert document == build_document()
    jsonschema.Draft4Validator(OPENAPI_30).validate(document)  # the official OpenAPI 3.0 schema (Draft 4)
    schema = schemathesis.openapi.from_dict(document)
    assert len(list(schema.get_all_operations())) == len(document["paths"])


def test_documented_bounds_are_the_enforced_ones() -> None:
    document = build_document()
    operation = document["paths"]["/v1/timelines/public"]["get"]
    by_name = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert by_name["limit"]["minimum"] == params.LIMIT_MIN and by_name["limit"]["maximum"] == params.LIMIT_MAX
    assert by_name["max_id"]["pattern"] == params.ID_PATTERN
    assert (by_name["max_id"]["minLength"], by_name["max_id"]["maxLength"]) == (1, params.ID_MAX_LENGTH)
    assert by_name["instance"]["pattern"] == params.INSTANCE_PATTERN
    assert by_name["local"] == {"type": "boolean"}
    rows = {p["name"]: p for p in document["paths"]["/v1/metrics/{name}"]["get"]["parameters"]}
    assert set(rows) == {"name", "prefix", "limit", "after"}
    assert rows["after"]["schema"]["pattern"] == params.AFTER_PATTERN
    assert rows["limit"]["schema"] == {"type": "integer", "minimum": params.RESULTS_MIN, "maximum": params.RESULTS_MAX}
    assert rows["prefix"]["schema"]["maxLength"] == params.PREFIX_MAX_LENGTH
    assert rows["name"]["in"] == "path" and rows["name"]["schema"]["pattern"] == params.NAME_PATTERN
    tag = document["paths"]["/v1/timelines/tag/{tag}"]["get"]["parameters"][0]
    assert tag["in"] == "path" and tag["schema"]["pattern"] == params.tag_schema_pattern()
    assert (tag["schema"]["minLength"], tag["schema"]["maxLength"]) == (1, params.TAG_MAX_LENGTH)
    for path, item in document["paths"].items():
        responses = item["get"]["responses"]
        if path.startswith(("/v1/analyses", "/v1/metrics")):
            assert set(RESULTS_ERROR_STATUSES) <= set(responses) and "502" not in responses
            assert responses["429"]["headers"]["Retry-After"]["required"] is True
        elif path.startswith("/v1/"):
            assert set(ERROR_STATUSES) <= set(responses)
            assert responses["429"]["headers"]["Retry-After"]["required"] is True
        else:
            assert item["get"]["security"] == []


def test_every_route_documents_the_500_of_a_bug(checked: LiveApi) -> None:
    """api/README's error table: 500 ``internal_error`` is a bug, on any route. Was: documented on no scraping
    route, nor on /health and /openapi.json, and the results routes' 500 named metric_definition_error only."""
    for path, item in checked.get("/openapi.json", key=None).json()["paths"].items():
        error = item["get"]["responses"].get("500")
        assert error is not None, path
        assert "internal_error" in error["description"] and "server log" in error["description"], path
        assert error["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, path


def _tag_schema() -> dict[str, object]:
    return build_document()["paths"]["/v1/timelines/tag/{tag}"]["get"]["parameters"][0]["schema"]


@pytest.mark.parametrize("tag", ["python", "tag_1", "café", "日本", "a·b", "ナ・ナ", "x" * 100, "हिन्दी"])
def test_the_published_tag_schema_takes_the_tags_the_server_takes(tag: str) -> None:
    """Was: the tag's pattern was Python's (``\\w`` is any script's letter there), published as is; in the ECMA
    regexes of JSON Schema (here jsonschema_rs's) ``\\w`` is ASCII only, so clients validating with the document
    refused café or 日本, which the server takes."""
    assert params.tag_source(tag).arg == tag.lower()  # the server takes it
    assert jsonschema_rs.validator_for(_tag_schema()).is_valid(tag)


def test_the_published_tag_schema_is_the_servers_charset_in_ecma() -> None:
    """Every character of the Basic Multilingual Plane: the document (ECMA regex) takes it exactly when the server
    does; over 100 characters, neither does. (Characters beyond the BMP: see params.tag_schema_pattern.)"""
    validator = jsonschema_rs.validator_for(_tag_schema())
    differ = [hex(code) for code in range(0x10000) if not 0xD800 <= code <= 0xDFFF
              and validator.is_valid(chr(code)) != bool(tag_re().fullmatch(chr(code)))]
    assert differ == []
    assert not validator.is_valid("x" * 101) and not tag_re().fullmatch("x" * 101)
    assert not validator.is_valid("") and not validator.is_valid("a-b") and not validator.is_valid("#a")


@pytest.mark.parametrize(("path", "key", "query", "status"), [
    ("/health", None, {}, 200),
    ("/openapi.json", None, {}, 200),
    ("/v1/instance", None, {"instance": OFFLINE_DOMAIN}, 401),
    ("/v1/instance", KEY, {"limit": "x", "instance": OFFLINE_DOMAIN}, 400),
    ("/v1/instance", KEY, {"instance": "elsewhere.example"}, 403),
    ("/nowhere", KEY, {}, 404),
])
def test_security_headers_on_every_response(checked: LiveApi, path: str, key: str | None, query: dict[str, str],
                                            status: int) -> None:
    response = checked.get(path, key=key, params=query)
    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_erased_account_answer_is_documented_on_the_account_route_only(checked: LiveApi) -> None:
    """410 erased_account (an account erased on request, api/upstream.py) is what a client of that route meets; the
    routes that name no account never answer it."""
    paths = checked.get("/openapi.json", key=None).json()["paths"]
    gone = {path for path, item in paths.items() if "410" in item["get"]["responses"]}
    assert gone == {"/v1/accounts/{acct}/statuses"}
    assert "erased_account" in paths["/v1/accounts/{acct}/statuses"]["get"]["responses"]["410"]["description"]


def test_the_document_names_the_package_version() -> None:
    """Was: a literal "0.1.0" beside ``fediscope.__version__``, bound to drift at the next release."""
    import fediscope

    assert build_document()["info"]["version"] == fediscope.__version__


def test_the_stale_cursor_answer_says_what_to_do_as_the_api_and_the_report_do(checked: LiveApi) -> None:
    """Was: the 409 description said to start again from the first page, not that a write that stopped part-way
    (``fediscope process``, or an erasure) keeps every later page stale until it is run again."""
    from fediscope.analysis import PLAIN_PARTLY_WRITTEN_ADVICE

    paths = checked.get("/openapi.json", key=None).json()["paths"]
    for path in ("/v1/metrics/{name}", "/v1/analyses/{name}"):
        conflict = paths[path]["get"]["responses"]["409"]["description"]
        assert "stale_cursor) the metric" in conflict and f"({PLAIN_PARTLY_WRITTEN_ADVICE})" in conflict, path
        assert "or the erasure if one stopped" in conflict, path
