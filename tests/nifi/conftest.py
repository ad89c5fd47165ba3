"""Fixtures for the NiFi flow definition tests: the processor catalogue and the flows, loaded once."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "nifi_templates"
CATALOGUE = ROOT / "tests" / "data" / "nifi" / "processors.json"
FLOW_FILES = ("mastodon_to_hdfs.json", "mastodon_to_files.json")


@pytest.fixture(scope="session")
def catalogue() -> dict[str, Any]:
    """``processors.json``: real NiFi 2.x processor types, bundles, property keys and relationships."""
    return json.loads(CATALOGUE.read_text())["processors"]


@pytest.fixture(scope="session")
def catalogue_version() -> str:
    """The NiFi release ``processors.json`` was derived from (``2.12.0`` of ``2.12.0-SNAPSHOT``)."""
    return str(json.loads(CATALOGUE.read_text())["nifi_version"]).removesuffix("-SNAPSHOT")


@pytest.fixture(scope="session")
def build_flows() -> ModuleType:
    """``nifi_templates/build_flows.py`` imported by path (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location("fediscope_nifi_build_flows", TEMPLATES / "build_flows.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session", params=FLOW_FILES)
def flow(request: pytest.FixtureRequest) -> dict[str, Any]:
    document = json.loads((TEMPLATES / request.param).read_text())
    document["_file"] = request.param
    return document
