"""The split-domain instance of the handle-domain tests: a Mastodon server served from ``social.example.test``
whose handles are ``@user@example.test`` (``WEB_DOMAIN`` ≠ ``LOCAL_DOMAIN``); the ``home`` fixture of
tests/sources/conftest.py serves it (the recorded Mastodon double, the host name resolved to 127.0.0.1)."""

from fediscope.sources.spec import parse_source

WEB_HOST = "social.example.test"
HANDLE_DOMAIN = "example.test"
PUBLIC = parse_source("public")
