"""The entity templates shipped in the package are unchanged copies of real recorded responses."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from fediscope.sample import shapes

TEMPLATES = Path(shapes.__file__).parent / "templates"
SOURCES = json.loads((TEMPLATES / "SOURCES.json").read_text())


def _follow(body: Any, path: str) -> Any:
    for key, index in re.findall(r"\.(\w+)|\[(\d+)\]", path):
        body = body[key] if key else body[int(index)]
    return body


def _recorded(recordings_dir: Path, recording: str, request: str) -> Any:
    method, uri = request.split(" ", 1)
    for interaction in json.loads((recordings_dir / recording).read_text())["interactions"]:
        req = interaction["request"]
        if req["method"] == method and req["uri"].replace("http://localhost:3000", "") == uri:
            body = interaction["response"]["body"]
            return json.loads(body) if isinstance(body, str) else body
    raise AssertionError(f"{request} not found in {recording}")


@pytest.mark.parametrize("name", shapes.TEMPLATE_NAMES)
def test_template_equals_its_recording(name: str, recordings_dir: Path) -> None:
    source = SOURCES[name]
    recorded = _follow(_recorded(recordings_dir, source["recording"], source["request"]), source["path"])
    assert shapes.template(name) == recorded


def test_every_template_is_documented_and_licensed() -> None:
    assert set(SOURCES) == set(shapes.TEMPLATE_NAMES)
    readme = (TEMPLATES / "README.md").read_text()
    assert "MIT" in readme and "Mastodon.py" in readme


def test_template_returns_a_copy() -> None:
    first = shapes.template("status")
    first["content"] = "changed"
    assert shapes.template("status")["content"] != "changed"
