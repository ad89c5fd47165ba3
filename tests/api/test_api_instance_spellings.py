"""The ``instance`` parameter takes exactly the addresses the configuration takes, named by the same domain.

The API reads it with :func:`fediscope.config.instance_domain` (``api.params.parse_instance``): a NiFi flow whose
``instance`` is written as in ``FEDISCOPE_INSTANCES`` (``Mastodon.Social.``, blanks around it) had every request
refused (400), and a value with a password was quoted back in the 400's message.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from api_testing import OFFLINE_DOMAIN, LiveApi, assert_error

from api.errors import ApiError
from api.params import INSTANCE_PATTERN, parse_instance
from fediscope.config import instance_base_url
from fediscope.errors import ConfigError

PASSWORD = "Hunter2-s3cret"


@pytest.mark.parametrize("spelling", ["{host}.:{port}", " {domain} ", "\t{url}/\n", "HTTP://{host}.:{port}/",
                                      "{host}.:0{port}\r\n"])
def test_an_instance_spelled_as_the_configuration_takes_it_is_fetched(api: LiveApi, mastodon_server: Any,
                                                                      spelling: str) -> None:
    """Was 400 for a final dot and blanks around the address, which the configuration takes."""
    host, port = mastodon_server.domain.split(":")
    instance = spelling.format(domain=mastodon_server.domain, url=mastodon_server.url, host=host, port=port)
    response = api.get("/v1/timelines/public", params={"instance": instance, "limit": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["instance"] == mastodon_server.domain and body["count"] == 3
    assert {record["meta"]["instance"] for record in body["records"]} == {mastodon_server.domain}


@pytest.mark.parametrize("instance", ["Allowed.Example.", "  allowed.example  ", "https://ALLOWED.example.:443/",
                                      "allowed.example\n"])
def test_the_instance_is_the_allowlisted_domain_whatever_its_spelling(offline: Any, instance: str) -> None:
    """The request gets past the parameters to the allowlisted instance (the offline API's resolver is asked for
    it, and the address check refuses its TEST-NET address): not a 400."""
    offline.resolved.clear()
    response = offline.live.get("/v1/instance", params={"instance": instance})
    assert_error(response, 403, "address_not_allowed")
    assert offline.resolved == [OFFLINE_DOMAIN]


REFUSED = [
    "allowed\t.example", "allowed.example\n/", "allowed .example", "allowed.example:0", "allowed.example:00",
    "ftp://allowed.example", "FTP://allowed.example", "gopher://allowed.example", "allowed..example",
    "-allowed.example", "allowed.example/path", "allowed.example:65536", "allowed\u00a0.example",
    f"https://alice:{PASSWORD}@allowed.example", f"alice:{PASSWORD}@allowed.example",
    f" http://alice:{PASSWORD}@allowed.example:8443/ ", f"alice:{PASSWORD[:4]}/{PASSWORD[4:]}@allowed.example",
    f"ftp://alice:{PASSWORD}@allowed.example", f"alice:{PASSWORD}@allowed.example\t/x",
    # a blank (or tab, line break) then a / ? # in the password: was quoted unmasked (the blank ended the password
    # for the masking, and the / ended urlsplit's host, where it looked for an @)
    f"https://alice:{PASSWORD[:4]} /{PASSWORD[4:]}@allowed.example",
    f"alice:{PASSWORD[:4]}\t?{PASSWORD[4:]}@allowed.example",
    f"https://alice:{PASSWORD[:4]}:x #{PASSWORD[4:]}@allowed.example",
    f"https://alice:{PASSWORD[:4]}%40é\n/{PASSWORD[4:]}@allowed.example",
]


@pytest.mark.parametrize("instance", REFUSED)
def test_what_the_configuration_refuses_is_400_and_a_password_never_shown(checked: LiveApi, instance: str,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    """A blank or control character inside, another scheme than http(s), port 0: refused by the configuration now
    too (a tab was dropped by ``urlsplit``, ``ftp://`` and port 0 read as https). A password is masked in the
    message (was: quoted as typed) and in no log line of the app (the test's werkzeug server and its client log
    each request line; ``fediscope serve-api``'s access log has no query string)."""
    with caplog.at_level(logging.DEBUG):
        response = checked.get("/v1/timelines/public", params={"instance": instance})
    error = assert_error(response, 400, "invalid_parameter", parameter="instance")
    assert "\n" not in error["message"] and error["message"].startswith("instance must be a host name")
    with pytest.raises(ConfigError) as refused:
        instance_base_url(instance)
    assert str(refused.value) in error["message"]  # the configuration's reason, as `config check` gives it
    for secret in (PASSWORD, PASSWORD[:4], PASSWORD[4:]):
        assert secret not in response.text
        assert not [r for r in caplog.records if r.name.startswith(("api", "fediscope")) and secret in r.getMessage()]
    if "alice" in instance:
        assert "***" in error["message"]


def _spellings() -> list[str]:
    spellings = []
    for scheme in ("", "http://", "HTTPS://", "ftp://", "https:/", "user:pw@"):
        for host in ("Mastodon.Social", "127.0.0.1", "xn--bcher-kva.example", "a..b", "-a.b", "a-.b", "a_b.c",
                     "a" * 63 + ".b", "a" * 64 + ".b", "b\u00fccher.example", "mast\todon.social"):
            for dot in ("", ".", ".."):
                for port in ("", ":", ":0", ":00", ":080", ":0443", ":65535", ":65536", ":x"):
                    for tail in ("", "/", "/x", "?"):
                        for pad in ("", " \t", "\n"):
                            spellings.append(f"{pad}{scheme}{host}{dot}{port}{tail}{pad}")
    return spellings


def test_the_documented_pattern_takes_what_the_api_takes() -> None:
    """``instance``'s pattern in the OpenAPI document is what the server takes (was: narrower than the
    configuration, which the server now follows; a host longer than 253 characters is the one difference, counted
    by the server alone)."""
    pattern = re.compile(INSTANCE_PATTERN)
    taken = 0
    for spelling in _spellings():
        try:
            parse_instance(spelling)
            accepted = True
        except ApiError:
            accepted = False
        assert bool(pattern.fullmatch(spelling)) == accepted, spelling
        taken += accepted
    assert taken > 500, taken
