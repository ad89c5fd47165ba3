"""Running a child process that file permissions stop, also when the tests run as root (as CI does)."""

from __future__ import annotations

import os
import shutil

import pytest


def without_dac_rights() -> list[str]:
    """The command prefix of a child that permission bits stop: nothing for another user; as root (whom they do not
    stop) ``setpriv`` dropping the capabilities that bypass them. Skips the test where neither can be had."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is missing: permissions do not stop root")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]
