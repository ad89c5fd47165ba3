"""The data lake: layout, record envelope, atomic batch files, checkpoints, and the storage backends."""

from fediscope.lake.backend import Entry, LakeBackend, open_lake

__all__ = ["Entry", "LakeBackend", "open_lake"]
