"""The served answers validate against the served OpenAPI document read as OpenAPI 3.0.3 defines ``nullable``.

OpenAPI 3.0.3 (section 4.7.24.1, ``nullable``): "A true value adds "null" to the allowed types specified by the
type keyword, only if type is explicitly defined within the same Schema Object." Strict validators and client
generators (openapi-core, openapi-generator) read it so; schemathesis, which the fuzz test uses, is lenient and
lets ``nullable`` allow null anywhere, so it cannot see a schema that only such a lenient reader takes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import pytest
from api_testing import LiveApi, make_settings, sqlite_store_holding


def oas30_strict(schema: Any) -> Any:
    """An OpenAPI 3.0.3 schema as JSON Schema (Draft 4): ``nullable`` adds null only to an explicit ``type``."""
    if isinstance(schema, list):
        return [oas30_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {name: oas30_strict(value) for name, value in schema.items() if name != "nullable"}
    if schema.get("nullable") is True and isinstance(schema.get("type"), str):
        out["type"] = [schema["type"], "null"]
    return out


def nullable_without_type(schema: Any, where: str = "#") -> Iterator[str]:
    """Where the document says ``nullable`` next to no ``type`` (which OpenAPI 3.0.3 gives no effect)."""
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from nullable_without_type(item, f"{where}/{index}")
    elif isinstance(schema, dict):
        if schema.get("nullable") is True and "type" not in schema:
            yield where
        for name, value in schema.items():
            yield from nullable_without_type(value, f"{where}/{name}")


@pytest.fixture(scope="module")
def results_store(tmp_path_factory: pytest.TempPathFactory, sample_metric_rows: dict[str, list[Any]]) -> str:
    return sqlite_store_holding(tmp_path_factory.mktemp("strict-store") / "metrics.db", sample_metric_rows)


@pytest.fixture
def results_api(results_store: str, live_api: Callable[..., LiveApi]) -> LiveApi:
    return live_api(make_settings(store=results_store))


def _validate(document: dict[str, Any], path: str, response: Any) -> None:
    operation = document["paths"][path]["get"]
    schema = operation["responses"][str(response.status_code)]["content"]["application/json"]["schema"]
    strict = {**oas30_strict(schema), "components": oas30_strict(document["components"])}
    jsonschema.Draft4Validator(strict).validate(response.json())


def test_rows_with_nulls_validate_against_the_document_read_as_openapi_3_0_3(results_api: LiveApi) -> None:
    """Was: a row's value was ``{"nullable": true, "oneOf": [string, number, boolean]}``, where ``nullable`` (no
    ``type`` beside it) allows nothing, so every row holding a NULL (an account without followers has no
    engagement_rate) failed a strict client's validation of /v1/metrics/<name> and /v1/analyses/<name>."""
    document = results_api.get("/openapi.json", key=None).json()
    page = results_api.get("/v1/metrics/account_engagement", params={"limit": "1000"})
    assert page.status_code == 200, page.text
    assert any(row["engagement_rate"] is None for row in page.json()["rows"])  # the case this test is about
    _validate(document, "/v1/metrics/{name}", page)
    analysis = results_api.get("/v1/analyses/top_engaged_accounts", params={"n": "1000"})
    assert analysis.status_code == 200, analysis.text
    assert any(row["engagement_rate"] is None for row in analysis.json()["rows"])
    _validate(document, "/v1/analyses/{name}", analysis)


def test_every_nullable_schema_of_the_document_names_its_type(results_api: LiveApi) -> None:
    document = results_api.get("/openapi.json", key=None).json()
    assert list(nullable_without_type(document)) == []
