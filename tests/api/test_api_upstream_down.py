"""An instance found down is left alone for a while: its answers 502/503/504 (or none) outlasted the API's retry, so
every request for it is answered 503 ``upstream_down`` for ``DOWN_MEMORY`` seconds, unsent. The memory's clock is
set by hand (no waiting, nothing timed)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_testing import LiveApi, assert_error, make_settings
from doubles.mastodon_server import MastodonDouble
from doubles.split_domain import HANDLE_DOMAIN, split_domain_double

from api.upstream import DOWN_MEMORY, MAX_RETRY_AFTER, Upstream

TIMELINE = "/api/v1/timelines/public"
FOREVER = 10**6
ROUTES = ("/v1/timelines/public", "/v1/timelines/tag/python", "/v1/instance", "/v1/trends/tags")
TAG = "/api/v1/timelines/tag/"
#: How long a test waits at most for another thread to get somewhere (it gets there at once: a safety net, not a
#: timing the test depends on).
WAIT = 30.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("status", [502, 503, 504])
def test_an_instance_found_down_is_not_asked_again_for_a_while(live_api: Callable[..., LiveApi],
                                                               status: int) -> None:
    """Was: every request for an instance answering 503 was sent, and retried once: a flow polling its sources hit
    the struggling server twice per source. Now, after one request's retry ran out, the others are answered 503
    ``upstream_down`` on every route, saying it was not asked, until the memory is over; then it is asked again. An
    instance answering 500 (one endpoint's bug, as the collector reads it) is not held, nor is another instance."""
    with MastodonDouble(statuses=5) as down, MastodonDouble(statuses=5) as buggy:
        live = live_api(make_settings(instances=(down.url, buggy.url), allow_private_addresses=True))
        clock = FakeClock()
        live.app.extensions["fediscope_api"].upstream.down.clock = clock
        down.fail(status, times=FOREVER)
        buggy.fail(500, times=FOREVER, path=TIMELINE)

        first = live.get("/v1/timelines/public", params={"instance": down.domain})
        error = assert_error(first, 502, "upstream_unavailable")
        assert len(down.log) == 2  # the request and its retry
        # the instance sent no Retry-After: the 502 says how long the API leaves it alone, as the 503s will
        assert first.headers["Retry-After"] == str(int(DOWN_MEMORY)) and error["retry_after"] == DOWN_MEMORY
        assert f"not asked again for {DOWN_MEMORY:g} s" in error["message"], error["message"]
        other = live.get("/v1/timelines/public", params={"instance": buggy.domain})
        assert_error(other, 502, "upstream_unavailable")
        assert "Retry-After" not in other.headers  # a 500 holds nothing, and said nothing

        held = [live.get(path, params={"instance": down.domain}) for path in ROUTES]
        assert len(down.log) == 2
        for response in held:
            error = assert_error(response, 503, "upstream_down")
            assert response.headers["Retry-After"] == str(int(DOWN_MEMORY)) and error["retry_after"] == DOWN_MEMORY
            assert f"(HTTP {status})" in error["message"] and "not sent" in error["message"], error["message"]
        assert live.get("/v1/instance", params={"instance": buggy.domain}).status_code == 200

        clock.now += DOWN_MEMORY - 1
        assert live.get("/v1/instance", params={"instance": down.domain}).headers["Retry-After"] == "1"
        clock.now += 1
        assert_error(live.get("/v1/instance", params={"instance": down.domain}), 502, "upstream_unavailable")
        assert len(down.log) == 4



def test_the_502_of_an_instance_that_does_not_answer_says_how_long_it_is_left_alone(
        live_api: Callable[..., LiveApi]) -> None:
    """An instance whose port refuses the connection (a socket bound, not listening: nothing answers, and no other
    server can take the port meanwhile) is remembered down for ``DOWN_MEMORY`` seconds: the 502 that found it so
    says as much as ``Retry-After`` (and ``retry_after``), and the 503 ``upstream_down`` answers after it count
    down to the same moment. Was: the 502 said no ``Retry-After`` (nothing answered to send one), so a client
    retrying at once, or after its own idea of a wait, met the 503s."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        domain = f"127.0.0.1:{silent.getsockname()[1]}"
        live = live_api(make_settings(instances=(f"http://{domain}",), allow_private_addresses=True,
                                      retry_backoff=0.01))
        clock = FakeClock()
        upstream_of(live).down.clock = clock

        first = live.get("/v1/timelines/public", params={"instance": domain})
        error = assert_error(first, 502, "upstream_unavailable")
        assert "upstream_status" not in error  # no answer
        assert first.headers["Retry-After"] == str(int(DOWN_MEMORY)) and error["retry_after"] == DOWN_MEMORY
        documented = live.get("/openapi.json", key=None).json()["paths"]["/v1/timelines/public"]["get"]["responses"]
        header = documented["502"]["headers"]["Retry-After"]
        assert header["schema"]["type"] == "integer" and "upstream_down" in header["description"]
        clock.now += 10
        held = live.get("/v1/instance", params={"instance": domain})
        error = assert_error(held, 503, "upstream_down")
        assert "(no answer)" in error["message"], error["message"]
        assert held.headers["Retry-After"] == str(int(DOWN_MEMORY) - 10) and error["retry_after"] == DOWN_MEMORY - 10


def upstream_of(live: LiveApi) -> Upstream:
    upstream: Upstream = live.app.extensions["fediscope_api"].upstream
    return upstream


def settings_for(*doubles: MastodonDouble, **overrides: Any) -> Any:
    # a retry's backoff of 10 ms: the tests hold requests in flight, each bound by its 10 s deadline
    return make_settings(instances=tuple(d.url for d in doubles), allow_private_addresses=True, retry_backoff=0.01,
                         **overrides)


@pytest.mark.parametrize(("retry_after", "held"), [("120", 120), ("86400", MAX_RETRY_AFTER), ("20", DOWN_MEMORY)],
                         ids=["longer", "capped", "shorter"])
def test_an_instance_down_for_longer_than_the_memory_is_left_alone_as_long_as_it_asked(
        live_api: Callable[..., LiveApi], retry_after: str, held: float) -> None:
    """A 503 with ``Retry-After: 120`` (the usual maintenance answer): was, the next requests were told to retry in
    30 s and were sent then. Now the instance is not asked for the 120 s it asked for: every 503 ``upstream_down``
    counts down to the moment the first request's 502 named. As long as that 502 passes on at most: a day asked for
    is an hour (the instance is asked again then, one request: the deadline does not let it be retried); a shorter
    ``Retry-After`` leaves the memory at ``DOWN_MEMORY``. (No retry in any case: each asks for longer than the
    deadline.)"""
    with MastodonDouble(statuses=5) as down:
        live = live_api(settings_for(down))
        clock = FakeClock()
        upstream_of(live).down.clock = clock
        down.fail(503, times=FOREVER, retry_after=retry_after)

        answer = live.get("/v1/timelines/public", params={"instance": down.domain})
        first = assert_error(answer, 502, "upstream_unavailable")
        # how long the memory lasts, the instance's shorter 20 s too (was: 20, and the client came back into 503s)
        assert first["retry_after"] == held == int(answer.headers["Retry-After"])
        assert len(down.log) == 1

        clock.now += DOWN_MEMORY - 1
        response = live.get("/v1/instance", params={"instance": down.domain})
        error = assert_error(response, 503, "upstream_down")
        assert error["retry_after"] == held - DOWN_MEMORY + 1 == int(response.headers["Retry-After"])
        assert f"(HTTP 503 asking to retry in {retry_after} s)" in error["message"], error["message"]
        assert f"not asked again for {held:g} s after that" in error["message"], error["message"]
        clock.now += held - DOWN_MEMORY
        assert live.get("/v1/trends/tags", params={"instance": down.domain}).headers["Retry-After"] == "1"
        assert len(down.log) == 1
        clock.now += 1
        assert_error(live.get("/v1/instance", params={"instance": down.domain}), 502, "upstream_unavailable")
        assert len(down.log) == 2


class HeldDouble(MastodonDouble):
    """A Mastodon double holding back its answers to the paths under ``held`` until :attr:`release` is set, so that
    a request is in flight while others come and go; :attr:`arrived` is set once one is held."""

    def __init__(self, held: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.held = held
        self.arrived = threading.Event()
        self.release = threading.Event()

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, str], bytes, str | None]:
        if path.startswith(self.held) and not self.release.is_set():
            self.arrived.set()
            self.release.wait(WAIT)
        return super().answer(path, params)


class InFlight:
    """A request to the live API sent from another thread: :meth:`result` once it is answered."""

    def __init__(self, live: LiveApi, path: str, domain: str) -> None:
        self.response: list[Any] = []
        self._thread = threading.Thread(target=lambda: self.response.append(
            live.get(path, params={"instance": domain})), daemon=True)
        self._thread.start()

    def result(self) -> Any:
        self._thread.join(WAIT)
        assert self.response, "the request in flight got no answer"
        return self.response[0]


@pytest.fixture
def held_tag() -> Iterator[HeldDouble]:
    with HeldDouble(TAG, statuses=5) as double:
        yield double


def test_a_page_answered_after_the_instance_was_found_down_ends_the_memory(
        held_tag: HeldDouble, live_api: Callable[..., LiveApi]) -> None:
    """A hashtag page asked for before another request found the instance down (503 twice), and answered after:
    the instance is up, and the next request is sent to it. Was: answered 503 ``upstream_down`` for the rest of the
    memory, though the instance had just answered."""
    live = live_api(settings_for(held_tag))
    upstream_of(live).down.clock = FakeClock()  # the memory never runs out by itself here
    in_flight = InFlight(live, "/v1/timelines/tag/python", held_tag.domain)
    assert held_tag.arrived.wait(WAIT)

    held_tag.fail(503, times=2, path=TIMELINE)
    assert_error(live.get("/v1/timelines/public", params={"instance": held_tag.domain}), 502, "upstream_unavailable")
    assert_error(live.get("/v1/instance", params={"instance": held_tag.domain}), 503, "upstream_down")
    held_tag.release.set()
    assert in_flight.result().status_code == 200

    asked = len(held_tag.log)
    assert live.get("/v1/instance", params={"instance": held_tag.domain}).status_code == 200
    assert len(held_tag.log) == asked + 1


def test_a_failure_in_flight_does_not_shorten_a_longer_memory(held_tag: HeldDouble,
                                                               live_api: Callable[..., LiveApi]) -> None:
    """A hashtag page asked for before another request found the instance down asking for 120 s, failing after it
    without a ``Retry-After``: the instance is still left alone for the 120 s, and that late request's 502 says
    the seconds left of them. Was: the later failure's 30 s replaced them; then its 502 said no ``Retry-After``."""
    live = live_api(settings_for(held_tag))
    clock = FakeClock()
    upstream_of(live).down.clock = clock
    in_flight = InFlight(live, "/v1/timelines/tag/python", held_tag.domain)
    assert held_tag.arrived.wait(WAIT)

    held_tag.fail(503, times=FOREVER, path=TIMELINE, retry_after="120")
    held_tag.fail(503, times=FOREVER, path=TAG)
    assert_error(live.get("/v1/timelines/public", params={"instance": held_tag.domain}), 502, "upstream_unavailable")
    clock.now += 1
    held_tag.release.set()
    late = in_flight.result()
    error = assert_error(late, 502, "upstream_unavailable")
    # the memory it found (and did not shorten), not nothing (its 503 said no Retry-After)
    assert error["retry_after"] == 119 == int(late.headers["Retry-After"])
    asked = len(held_tag.log)

    clock.now += DOWN_MEMORY - 1
    error = assert_error(live.get("/v1/instance", params={"instance": held_tag.domain}), 503, "upstream_down")
    assert error["retry_after"] == 120 - DOWN_MEMORY
    assert len(held_tag.log) == asked


def test_a_request_under_way_does_not_ask_an_instance_found_down_meanwhile(live_api: Callable[..., LiveApi]) -> None:
    """A request that passed the memory's check at its start, and another request finds the instance down before
    the first sends its own: the first is answered 503 ``upstream_down`` too, unsent. Was: the memory was consulted
    once per request, at its start, and the page was asked for all the same."""
    with MastodonDouble(statuses=5) as down:
        live = live_api(settings_for(down))
        upstream = upstream_of(live)
        upstream.down.clock = FakeClock()
        checked, go = threading.Event(), threading.Event()
        policy_of = upstream.policy_factory

        def held_policy() -> Any:  # the first request stops here: past the memory's check, nothing sent yet
            if not checked.is_set():
                checked.set()
                go.wait(WAIT)
            return policy_of()

        upstream.policy_factory = held_policy
        in_flight = InFlight(live, "/v1/timelines/tag/python", down.domain)
        assert checked.wait(WAIT)
        down.fail(503, times=2, path=TIMELINE)
        assert_error(live.get("/v1/timelines/public", params={"instance": down.domain}), 502, "upstream_unavailable")
        asked = len(down.log)
        go.set()
        assert_error(in_flight.result(), 503, "upstream_down")
        assert len(down.log) == asked


def test_the_instance_document_of_an_instance_found_down_is_not_asked(monkeypatch: pytest.MonkeyPatch,
                                                                      live_api: Callable[..., LiveApi],
                                                                      tmp_path: Any) -> None:
    """The handle domain of social.example.test while it is remembered down: its instance document is not asked for
    (the handle domain is then what it is when the document fails: the lake's, here none); once the memory is over,
    the next lookup asks (not taken for a failed document, which would be asked again a minute later only). Was: a
    request already under way asked a down instance for its document."""
    with split_domain_double(monkeypatch) as home:
        live = live_api(settings_for(home, lake=str(tmp_path / "lake")))
        upstream = upstream_of(live)
        clock = FakeClock()
        upstream.down.clock = clock
        home.fail(503, times=2, path=TIMELINE)
        assert_error(live.get("/v1/timelines/public", params={"instance": home.domain}), 502, "upstream_unavailable")

        client = upstream.client(home.url)
        try:
            assert upstream.handle_domains.lookup(client, None) is None
            assert home.requests_to("/api/v2/instance") == []
            clock.now += DOWN_MEMORY
            assert upstream.handle_domains.lookup(client, None) == HANDLE_DOMAIN
        finally:
            client.close()
        assert len(home.requests_to("/api/v2/instance")) == 1
