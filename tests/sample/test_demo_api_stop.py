"""The demo's scraping API stops cleanly while a worker thread is still finishing a request.

A waitress worker that finishes a request wakes the server's loop through its trigger (a pipe). The demo closed
every socket of the loop, the trigger included, while a worker could still be finishing one: the request was cut,
and a worker finishing just then wrote to a closed pipe (``OSError: [Errno 9] Bad file descriptor``, logged with a
traceback by waitress in the demo's output, seen under load), or into whatever file had the pipe's number by then.
The test checks the request is answered in full and waitress logs nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from fediscope.demo import DemoApi, DemoContext, demo_settings


def test_stop_waits_for_a_request_being_served_and_no_worker_writes_to_a_closed_trigger(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = demo_settings(DemoContext(base=tmp_path), "http://127.0.0.1:9", None)
    api = DemoApi(settings.replace(api_key=("demo-api-stop-test-key-" + "x" * 24,))).start()
    inside, release = threading.Event(), threading.Event()
    served = api.server.application

    def slow(environ: dict[str, Any], start_response: Any) -> Any:
        inside.set()
        release.wait(10)
        return served(environ, start_response)

    api.server.application = slow
    answers: list[requests.Response | Exception] = []

    def ask() -> None:
        try:
            answers.append(requests.get(f"{api.url}/health", timeout=10))
        except requests.RequestException as exc:
            answers.append(exc)

    client = threading.Thread(target=ask)
    client.start()
    assert inside.wait(10), "the request never reached the app"
    # the worker finishes its request 0.3 s after stop() has begun (whichever it does first)
    server = api.server
    for owner, name in ((server.task_dispatcher, "shutdown"), (server.trigger, "pull_trigger")):
        setattr(owner, name, _releasing(getattr(owner, name), release))

    with caplog.at_level(logging.WARNING, logger="waitress"):
        started = time.monotonic()
        api.stop()
        client.join(10)
        time.sleep(0.2)  # a worker that outlived stop() would pull the closed trigger now

    assert len(answers) == 1 and isinstance(answers[0], requests.Response), f"the request was cut: {answers}"
    assert answers[0].status_code == 200
    assert not [r for r in caplog.records if r.name.startswith("waitress")], caplog.text
    assert time.monotonic() - started < 5
    assert not api._thread.is_alive()


def _releasing(method: Any, release: threading.Event) -> Any:
    def called(*args: Any, **kwargs: Any) -> Any:
        threading.Timer(0.3, release.set).start()
        return method(*args, **kwargs)

    return called


def test_stop_sends_an_answer_being_sent_in_full(tmp_path: Path) -> None:
    """An answer larger than what the socket takes at once waits in waitress's buffer for the loop to send it;
    stop() closed the connection at once and cut it (the client read a short body). Now the loop sends the rest
    first, for as long as the client reads (``drain_seconds``)."""
    settings = demo_settings(DemoContext(base=tmp_path), "http://127.0.0.1:9", None)
    api = DemoApi(settings.replace(api_key=("demo-api-stop-test-key-" + "x" * 24,))).start()
    body = b"x" * (32 * 1024 * 1024)  # far more than the socket buffers hold

    def large(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    api.server.application = large
    with requests.get(f"{api.url}/large", stream=True, timeout=10) as response:
        chunks = response.raw.stream(64 * 1024, decode_content=False)
        received = len(next(chunks))
        assert received < len(body)
        stopping = threading.Thread(target=api.stop)
        stopping.start()
        time.sleep(0.3)  # stop() has begun while the rest of the answer waits in waitress's buffer
        try:
            received += sum(len(chunk) for chunk in chunks)
        except Exception as exc:  # urllib3's ProtocolError (IncompleteRead) for a cut body
            pytest.fail(f"the answer was cut after {received:,} of {len(body):,} bytes: {exc!r}")
    stopping.join(10)
    assert received == len(body)
    assert not stopping.is_alive() and not api._thread.is_alive()


def test_stop_cuts_an_answer_the_client_stopped_reading_after_drain_seconds(tmp_path: Path) -> None:
    settings = demo_settings(DemoContext(base=tmp_path), "http://127.0.0.1:9", None)
    api = DemoApi(settings.replace(api_key=("demo-api-stop-test-key-" + "x" * 24,))).start()
    body = b"x" * (32 * 1024 * 1024)
    api.server.application = lambda environ, start_response: (
        start_response("200 OK", [("Content-Length", str(len(body)))]), [body])[1]
    with requests.get(f"{api.url}/large", stream=True, timeout=10):
        started = time.monotonic()
        api.stop(drain_seconds=0.5)  # the client reads nothing more
        assert time.monotonic() - started < 5
    assert not api._thread.is_alive()


def test_a_queued_request_is_no_warning_but_an_error_in_the_app_still_is(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    """``make demo`` printed ``WARNING waitress.queue Task queue depth is 1`` now and then: a keep-alive client's
    next request reached the demo's own API before waitress counted the worker that served the last one idle. A
    request waiting for a worker of an embedded server is no load to warn of (it is logged at DEBUG); an error
    serving a request is still an error."""
    settings = demo_settings(DemoContext(base=tmp_path), "http://127.0.0.1:9", None)
    api = DemoApi(settings.replace(api_key=("demo-api-stop-test-key-" + "x" * 24,)), threads=1).start()
    inside, release = threading.Event(), threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("broken on purpose")
        inside.set()
        release.wait(10)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    api.server.application = app
    answers: list[int] = []
    clients = [threading.Thread(target=lambda: answers.append(requests.get(f"{api.url}/slow", timeout=10)
                                                              .status_code)) for _ in range(2)]
    try:
        with caplog.at_level(logging.DEBUG, logger="waitress"):
            clients[0].start()
            assert inside.wait(10), "the request never reached the app"
            clients[1].start()  # the one worker is busy: this request waits in the queue
            deadline = time.monotonic() + 10
            while not [r for r in caplog.records if "queue depth" in r.getMessage()] and time.monotonic() < deadline:
                time.sleep(0.02)
            release.set()
            for client in clients:
                client.join(10)
            assert requests.get(f"{api.url}/boom", timeout=10).status_code == 500
    finally:
        release.set()
        api.stop()
    assert answers == [200, 200]
    queued = [r for r in caplog.records if r.getMessage() == "Task queue depth is 1"]
    assert queued and {r.levelno for r in queued} == {logging.DEBUG}, caplog.text
    assert [r for r in caplog.records if r.levelno >= logging.ERROR and "/boom" in r.getMessage()], caplog.text
