"""Constants shared by the collector tests (tests/sources), imported as ``from collector_testing import …``.

Not in tests/sources/conftest.py: every directory's conftest is a module named ``conftest``, and when pytest is
given several test directories (``pytest tests/sources tests/api``) it loads all their conftests first, so a
test module's ``from conftest import …`` got the last one loaded (tests/api's or tests/gdpr's), not its own, and
the module failed to collect. A module of its own name, as tests/api/api_testing.py and tests/gdpr/gdpr_lake.py.
"""

#: The pseudonym key of the collector tests' settings (the ``make_settings`` fixture of tests/sources/conftest.py).
TEST_KEY = "test-pseudonym-key-not-secret"
