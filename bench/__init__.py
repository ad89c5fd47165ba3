"""The fediscope benchmark (``make bench`` → ``python -m bench.run``): see :mod:`bench.run`."""
