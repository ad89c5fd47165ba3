"""Fixtures of the sample-world tests: one generated corpus and one running sample server per module."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fediscope.sample.corpus import Corpus, generate_corpus
from fediscope.sample.instance import SampleInstance
from fediscope.sample.server import SampleServer

CORPUS_SIZE = 8000


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    return generate_corpus(CORPUS_SIZE, seed=11)


@pytest.fixture(scope="module")
def sample_server() -> Iterator[SampleServer]:
    with SampleServer(SampleInstance.generate(1500, seed=5), rate_limit=100_000) as server:
        yield server


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture
def http_get() -> Callable[[str], Response]:
    """GET a full URL with the standard library; HTTP errors are returned, not raised."""

    def get(url: str) -> Response:
        try:
            with urllib.request.urlopen(url, timeout=10) as reply:
                return Response(reply.status, dict(reply.headers), reply.read())
        except urllib.error.HTTPError as exc:
            return Response(exc.code, dict(exc.headers), exc.read())

    return get
