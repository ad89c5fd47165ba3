"""Every 400 that quotes what the client sent quotes it once, its first characters at most (``fediscope.wording.
quoted``): the answer stays short whatever the request held, up to what the server takes (a 16 KB request line).

The values are emoji, which JSON answers write as 12 ASCII characters each (``\\ud83d\\ude00``): the case that
made a refused ``instance`` with an unreadable port a 7.4 KB answer, its 300 characters quoted twice (the address,
then Python's own error text repeating the port)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from api_testing import OFFLINE_DOMAIN, LiveApi, assert_error

EMOJI = "\U0001F600"
#: the longest message any of them may be, as JSON writes it: its own words, and 100 quoted emoji of 12 characters
MESSAGE_BYTES = 1_600

#: (parameter, path, query): each refused as that parameter, quoting a value of hundreds of emoji
LONG_VALUES = [
    ("instance", "/v1/instance", {"instance": "host.example:" + EMOJI * 287}),  # 300 characters, the most it takes
    ("instance", "/v1/instance", {"instance": "https://host.example/" + EMOJI * 279}),
    ("instance", "/v1/instance", {"instance": "host" + EMOJI * 296}),
    ("max_id", "/v1/timelines/public", {"instance": OFFLINE_DOMAIN, "max_id": EMOJI * 1000}),
    ("limit", "/v1/timelines/public", {"instance": OFFLINE_DOMAIN, "limit": EMOJI * 1000}),
    ("local", "/v1/timelines/public", {"instance": OFFLINE_DOMAIN, "local": EMOJI * 1000}),
    ("offset", "/v1/trends/tags", {"instance": OFFLINE_DOMAIN, "offset": EMOJI * 1000}),
    ("tag", "/v1/timelines/tag/" + quote(EMOJI * 1000), {"instance": OFFLINE_DOMAIN}),
    ("acct", "/v1/accounts/" + quote(EMOJI * 300) + "/statuses", {"instance": OFFLINE_DOMAIN}),
    ("name", "/v1/metrics/" + quote(EMOJI * 1000), {}),
    ("after", "/v1/metrics/languages", {"after": EMOJI * 1000}),
    (EMOJI * 100, "/v1/instance", {"instance": OFFLINE_DOMAIN, EMOJI * 1000: "1"}),
]


@pytest.mark.parametrize(("parameter", "path", "query"), LONG_VALUES,
                         ids=[f"{path.split('/')[2]}-{p[:10]}-{i}" for i, (p, path, _) in enumerate(LONG_VALUES)])
def test_a_400_quotes_a_long_value_once_and_cut(checked: LiveApi, parameter: str, path: str,
                                               query: dict[str, str]) -> None:
    response = checked.get(path, params=query)
    error = assert_error(response, 400, "invalid_parameter", parameter=parameter)
    message = error["message"]
    # quoted once, cut: at most 100 characters of it, then "…" (was: the instance's 300 characters, twice over)
    assert 0 < message.count(EMOJI) <= 100 and EMOJI + "'…" in message, message
    assert len(json.dumps(message)) <= MESSAGE_BYTES, (len(json.dumps(message)), message)
    assert len(response.content) <= MESSAGE_BYTES + len(json.dumps(parameter)) + 100  # the envelope, "parameter"


def test_a_parameter_name_that_is_not_utf8_is_quoted_cut(checked: LiveApi) -> None:
    """Its name, percent-decoded with the bytes that are not UTF-8 replaced, as far as the other names are quoted."""
    response = checked.get("/v1/instance?" + "a" * 5000 + "%ff=1&instance=" + OFFLINE_DOMAIN)
    error = assert_error(response, 400, "invalid_parameter", parameter="a" * 100)
    assert error["message"].startswith("parameter '" + "a" * 100 + "'… is not UTF-8"), error["message"]
    assert len(response.content) <= MESSAGE_BYTES


def test_an_unreadable_port_is_said_in_our_words_quoting_the_address_once(checked: LiveApi) -> None:
    """Was: "… 'host.example:abc' (Port could not be cast to integer value as 'abc'; …)", the port quoted twice."""
    error = assert_error(checked.get("/v1/instance", params={"instance": "host.example:abc"}), 400,
                         "invalid_parameter", parameter="instance")
    assert error["message"] == ("instance must be a host name with an optional http(s):// and :port (1-65535), e.g. "
                                "mastodon.social: not an instance address: 'host.example:abc' (its port is not a "
                                "whole number from 1 to 65535; expected e.g. https://mastodon.social or "
                                "http://127.0.0.1:8765)")
