"""``python -m fediscope.cli …``: the ``fediscope`` command, for a venv whose scripts are not on PATH."""

import sys

from fediscope.cli import main

sys.exit(main())
