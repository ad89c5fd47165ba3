"""Protocol-level doubles of external systems (Mastodon, WebHDFS), served on 127.0.0.1 for tests."""

from __future__ import annotations

from doubles.ports import free_port
from doubles.serving import serving

__all__ = ["free_port", "serving"]
