"""Fuzz the API from its own OpenAPI document with schemathesis (bounded: a few examples per operation).

Valid and invalid requests are generated from the served document. Every answer must: not be a 5xx, have a
documented status code, content type, headers and body schema, and every invalid request must be refused
with a 4xx. Valid requests are pointed at the Mastodon double (the only allowlisted instance), so they go
all the way through the collector's fetch and landing code; invalid ones stay what the generator made them.

The schema is loaded from :func:`api.openapi.build_document` at collection time, and each test checks first
that the running app serves exactly that document at /openapi.json. (``schemathesis.pytest.from_fixture``
would load it from the URL directly, but schemathesis 4.32's lazy loader reads ``request.node._nodeid``,
which pytest 9 no longer has.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from api_testing import KEY, LiveApi, make_settings, sqlite_store_holding
from hypothesis import HealthCheck, settings

from api.openapi import build_document

FUZZ_CONFIG = {
    "seed": 20261123,  # reproducible in CI; change it locally to explore
    "generation": {"max-examples": 12},
}


@pytest.fixture(scope="module")
def results_store(tmp_path_factory: pytest.TempPathFactory, sample_metric_rows: dict[str, list[Any]]) -> str:
    """A SQLite store holding every metric, so valid results requests go all the way through the analyses."""
    return sqlite_store_holding(tmp_path_factory.mktemp("fuzz-store") / "metrics.db", sample_metric_rows)


@pytest.fixture
def fuzzed_api(mastodon_server: Any, live_api: Callable[..., LiveApi], results_store: str) -> Iterator[LiveApi]:
    # rate limiting on: the fuzzer must never meet a 429 it did not cause, so the budget is generous
    yield live_api(make_settings(instances=(mastodon_server.url,), allow_private_addresses=True,
                                 api_rate_limit=100_000, store=results_store))


schema = schemathesis.openapi.from_dict(build_document(), config=schemathesis.Config.from_dict(FUZZ_CONFIG))


@pytest.fixture
def served_document(fuzzed_api: LiveApi) -> dict[str, Any]:
    return fuzzed_api.get("/openapi.json", key=None).json()


@schema.parametrize()
@settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case: Any, mastodon_server: Any, fuzzed_api: LiveApi,
                                              served_document: dict[str, Any]) -> None:
    assert served_document == build_document()
    mode = case.meta.generation.mode if case.meta is not None else None
    if mode is not None and mode.is_positive and "instance" in (case.query or {}):
        case.query["instance"] = mastodon_server.domain
    response = case.call_and_validate(base_url=fuzzed_api.url, headers={"X-API-Key": KEY})
    assert response.status_code < 500
