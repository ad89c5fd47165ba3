"""Fixtures for the lake tests: ``lake_case`` / ``lake`` run each contract test once per backend (see lake_cases.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from lake_cases import REAL_WEBHDFS, LakeCase, double_case, local_case

from fediscope.lake.backend import LakeBackend
from fediscope.lake.webhdfs import WebHDFSLake

# The real-namenode case exists only when configured; tests/lake/test_webhdfs_lake.py reports the skip once.
BACKENDS = ["local", "webhdfs-double"] + (["webhdfs-real"] if REAL_WEBHDFS else [])


@pytest.fixture(params=BACKENDS)
def lake_case(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LakeCase]:
    """One lake backend; every contract test runs once per backend."""
    if request.param == "local":
        yield local_case(tmp_path, monkeypatch)
    elif request.param == "webhdfs-double":
        yield double_case(request.getfixturevalue("webhdfs_server"), monkeypatch)
    else:
        base = REAL_WEBHDFS.split("?")[0].rstrip("/") + f"/run-{uuid.uuid4().hex[:12]}"
        query = "?" + REAL_WEBHDFS.split("?", 1)[1] if "?" in REAL_WEBHDFS else ""
        lake = WebHDFSLake(base + query)
        try:
            yield LakeCase("webhdfs-real", lake)
        finally:
            lake.delete("", recursive=True)


@pytest.fixture
def lake(lake_case: LakeCase) -> LakeBackend:
    return lake_case.lake
