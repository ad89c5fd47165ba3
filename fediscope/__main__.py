"""``python -m fediscope …``: the ``fediscope`` command, as ``python -m fediscope.cli`` (the name a user tries
first; without this module Python answered "'fediscope' is a package and cannot be directly executed")."""

import sys

from fediscope.cli import main

sys.exit(main())
