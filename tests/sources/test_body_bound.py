"""An instance's answer is read up to a bound: ``fediscope collect`` had none (only the scraping API had its
4 MiB), so a hostile or broken instance sending a body of hundreds of megabytes (a padded JSON page, a gzip bomb)
had all of it decoded in memory (a 200 MB answer: 481 MB resident; a 300 MB gzip bomb of 300 KB: 646 MB) and, being
valid JSON, landed as a page. Now the client stops reading past ``MAX_BODY_BYTES`` (decoded), announced or not, and
the source fails with a clear error, not retried; the other sources go on.

The answers are the recorded double's (tests/doubles/mastodon_server.py), padded after the JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from doubles.mastodon_server import MastodonDouble, _Handler

from fediscope.sources.client import MAX_BODY_BYTES, MastodonClient
from fediscope.sources.collector import run_collection
from fediscope.sources.spec import parse_source

_CHUNK = b" " * (1024 * 1024)


class PaddingDouble(MastodonDouble):
    """The recorded double; its public (not local) timeline answers carry their page followed by ``MAX_BODY_BYTES`` of
    whitespace (still valid JSON), with a ``Content-Length`` (``announce``) or chunked."""

    announce = True
    padded = 0  # answers sent padded

    def handler(self) -> type[_Handler]:
        double = self

        class Handler(_Handler):
            server_double = double

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                if parts.path != "/api/v1/timelines/public" or "local" in params:
                    return super().do_GET()
                status, headers, body, _fault = double.answer(parts.path, params)
                double.padded += 1
                padding = MAX_BODY_BYTES // len(_CHUNK) + 1
                try:
                    self.send_response(status)
                    for name, value in {"Content-Type": "application/json; charset=utf-8", **headers}.items():
                        self.send_header(name, value)
                    if double.announce:
                        self.send_header("Content-Length", str(len(body) + padding * len(_CHUNK)))
                    else:
                        self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for part in (body, *[_CHUNK] * padding):
                        self.wfile.write(part if double.announce else b"%x\r\n%s\r\n" % (len(part), part))
                    if not double.announce:
                        self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass  # the client stopped reading

        return Handler


@pytest.fixture
def server() -> Iterator[PaddingDouble]:
    with PaddingDouble(statuses=30) as double:
        yield double


@pytest.mark.parametrize("announce", [True, False], ids=["content-length", "chunked"])
def test_an_answer_over_the_bound_fails_its_source_and_the_others_go_on(server, make_settings, lake,
                                                                       announce: bool) -> None:
    """Was: the padded page was read whole into memory and landed (the source succeeded)."""
    server.announce = announce
    targets = [(server.url, parse_source("public")), (server.url, parse_source("local"))]
    summary = run_collection(make_settings(max_retries=2), targets, progress=False)
    failed = {s.source: s.error for s in summary.failed}
    assert list(failed) == ["public"]
    assert f"the answer is larger than {MAX_BODY_BYTES} bytes; not read" in failed["public"]
    assert server.padded == 1  # not retried
    assert len(lake.status_ids()) == 30  # local's, all of them
    with pytest.raises(FileNotFoundError):  # no checkpoint: the next run starts the walk again
        lake.checkpoint(server.domain, "public")


def test_the_bound_leaves_room_for_any_real_answer() -> None:
    """A page of 40 long statuses (servers allowing 100,000 characters each) or a large peer list is a few MiB."""
    assert 32 * 1024 * 1024 <= MAX_BODY_BYTES <= 256 * 1024 * 1024
    assert MastodonClient("http://127.0.0.1:9").max_body_bytes == MAX_BODY_BYTES
