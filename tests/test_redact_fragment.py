"""A secret after a URL's ``#``, and a password holding an unencoded ``#`` (README: "A password in a URL is masked
whole, also when written with unencoded ``/ ? # : @``").

Was: :func:`~fediscope.redact.redact_url` masked query parameters only, and ``urlsplit`` takes all after the first
``#`` for the fragment: ``sqlite:////x#frag?password=a`` was shown as it is (:func:`~fediscope.redact.redact_text`
masked it). And :func:`~fediscope.redact.url_secrets` took a password holding ``#`` (or ``/``, ``?``) and an ``@`` to
its first ``@`` (``pa#`` of ``u:pa#@ss@h``), so the known secret left ``@ss`` shown where a message quotes the
password alone.
"""

from __future__ import annotations

import logging

import pytest

from fediscope.redact import MASK, RedactingFilter, redact_text, redact_url, redact_value, url_secrets


@pytest.mark.parametrize(("url", "expected"), [
    ("sqlite:////x#frag?password=a", f"sqlite:////x#frag?password={MASK}"),
    ("sqlite:///x.db?a=1#f?password=hunter2", f"sqlite:///x.db?a=1#f?password={MASK}"),
    ("https://h.example/cb#access_token=tk-abc&token_type=bearer",
     f"https://h.example/cb#access_token={MASK}&token_type=bearer"),
    ("https://h.example/p#frag&db_password=a#b&x=1", f"https://h.example/p#frag&db_password={MASK}&x=1"),
])
def test_a_secret_parameter_after_a_hash_is_masked(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert "password=a" not in redact_text(url) and "tk-abc" not in redact_text(url)


@pytest.mark.parametrize("url", ["https://h.example/p#frag", "https://h.example/p#tokens=3&section=2",
                                 "sqlite:////x.db#token_type=bearer"])
def test_a_fragment_without_a_secret_is_kept(url: str) -> None:
    assert redact_url(url) == url


@pytest.mark.parametrize(("url", "password"), [
    ("mysql+pymysql://u:pa#ss@h/db", "pa#ss"),
    ("mysql+pymysql://u:pa#@ss@h/db", "pa#@ss"),
    ("mysql+pymysql://u:pa/@ss@h/db", "pa/@ss"),
    ("mysql+pymysql://u:p?a#@s:s@h:3306/db?charset=utf8mb4", "p?a#@s:s"),
    ("redis://:pa#ss@h", "pa#ss"),
])
def test_a_password_with_an_unencoded_hash_is_masked_whole_by_every_entry_point(url: str, password: str) -> None:
    shown_url = redact_url(url)
    assert shown_url.count(MASK) == 1 and "ss" not in shown_url.split("@")[0]
    assert url_secrets(url)[0] == password
    message = f"cannot connect to {url}: wrong password {password!r} (was {password})"
    record = logging.makeLogRecord({"msg": "%s", "args": (message,)})
    RedactingFilter(url_secrets(url)).filter(record)
    for shown in (redact_text(message, url_secrets(url)), record.getMessage(),
                  redact_value({"store": url, "detail": message}, url_secrets(url))["detail"]):
        assert password not in shown and "@ss" not in shown.split(" wrong")[1], shown
        assert f"'{MASK}' (was {MASK})" in shown


@pytest.mark.parametrize(("url", "password"), [
    ("mysql+pymysql:/u:pa#ss-9x@h/db", "pa#ss-9x"),
    ("mysql+pymysql//u:pw/x?y#9@h/db", "pw/x?y#9"),
])
def test_the_password_of_a_url_typed_without_its_double_slash_is_a_known_secret(url: str, password: str) -> None:
    """redact_url masks it (error messages echo such a mistyped URL), but the shape rule of free text wants ``://``:
    a log line quoting the store setting showed it, as url_secrets did not know it."""
    assert MASK in redact_url(url) and password not in redact_url(url)
    assert url_secrets(url) == [password]
    assert redact_text(f"cannot parse {url!r}", url_secrets(url)) == f"cannot parse {redact_url(url)!r}"
