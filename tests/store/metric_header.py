"""A metric built from a header alone, for store tests that need its key, rank and prefix but no SQL to run."""

from __future__ import annotations

from fediscope.engine.metrics import Metric, parse_metric


def metric(name: str, key: str, rank: str | None = None, prefix: str | None = None) -> Metric:
    header = [f"-- question: test metric {name}", f"-- key: {key}"]
    if rank:
        header.append(f"-- rank: {rank}")
    if prefix:
        header.append(f"-- prefix: {prefix}")
    return parse_metric(name, "\n".join(header) + "\nSELECT 1\n")
