"""A redacted URL keeps its path as written: only the secrets change.

``urlunsplit`` drops the ``//`` of an empty host, so a masked ``sqlite:////tmp/x.db?password=…`` was shown as
``sqlite://tmp/x.db?password=***`` (a URL naming a host ``tmp``), and the store check, which looks at the masked URL,
refused it with "names a host ('tmp')", quoting the mangled URL.
"""

from __future__ import annotations

import pytest
from cli_run import clean_env, run

from fediscope.redact import redact_url


@pytest.mark.parametrize(("url", "expected"), [
    ("sqlite:///rel.db?password=abc", "sqlite:///rel.db?password=***"),  # was sqlite:/rel.db?…
    ("sqlite:////abs.db?password=abc", "sqlite:////abs.db?password=***"),  # was sqlite://abs.db?… (a host)
    ("sqlite:////tmp/x.db?password=abc&timeout=5", "sqlite:////tmp/x.db?password=***&timeout=5"),
    ("file:///x?token=abc", "file:///x?token=***"),
    ("file:////x?token=abc", "file:////x?token=***"),
    ("webhdfs://h:9870/p?delegation=abc", "webhdfs://h:9870/p?delegation=***"),
    ("mysql+pymysql://u:p@h/db?password=x", "mysql+pymysql://u:***@h/db?password=***"),
    ("mysql+pymysql://u@h//db?password=x", "mysql+pymysql://u@h//db?password=***"),
    ("SQLite:////abs.db?password=abc", "SQLite:////abs.db?password=***"),  # the scheme as typed too
])
def test_a_redacted_url_keeps_its_path_as_written(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize("url", ["sqlite:///rel.db", "sqlite:////abs.db", "file:///x", "webhdfs://h:9870/p"])
def test_a_url_without_secrets_is_shown_unchanged(url: str) -> None:
    assert redact_url(url) == url


def test_an_absolute_sqlite_store_with_a_password_option_is_quoted_whole(tmp_path, monkeypatch, capsys) -> None:
    """The refusal names the real problem (SQLite takes no password option) and quotes the URL with its four
    slashes, not a host ``tmp``."""
    path = tmp_path / "x.db"
    clean_env(tmp_path, monkeypatch, FEDISCOPE_STORE=f"sqlite:///{path}?password=Kq7wZx9vRt4Lm")
    code, out, err = run(capsys, "config", "check")
    assert code == 2, out + err
    assert f"'sqlite:///{path}?password=***' has the option 'password' after its '?'" in err, err
    assert "names a host" not in err and "Kq7wZx9vRt4Lm" not in out + err, err


@pytest.mark.parametrize(("url", "expected"), [
    ("webhdfs://nn:9870/l?cookie=abc123", "webhdfs://nn:9870/l?cookie=***"),
    ("webhdfs://nn/l?Authorization=Bearer%20tok123456", "webhdfs://nn/l?Authorization=***"),
    ("https://b.example/o?X-Amz-Signature=abcdef1234&page=2", "https://b.example/o?X-Amz-Signature=***&page=2"),
    ("https://b.example/o?X-Goog-Signature=abcdef1234", "https://b.example/o?X-Goog-Signature=***"),
    ("https://b.example/o?signature_version=4&design=1", "https://b.example/o?signature_version=4&design=1"),
])
def test_a_url_masks_what_free_text_masks_in_its_query(url: str, expected: str) -> None:
    """Was: a credential header's name or a signed URL's signature as a query parameter was shown by redact_url
    (doctor's store and lake lines, log records' URLs), the headers' values while redact_text masked them in free
    text."""
    assert redact_url(url) == expected


@pytest.mark.parametrize("name", ["has-signature", "require_signature", "signature_version", "SignatureVersion"])
def test_a_flag_about_signatures_is_no_secret(name: str) -> None:
    """Only the signed URL conventions' signatures are masked: a parameter merely about signatures (its value
    ``true``) would otherwise become a known secret (url_secrets) and ``true`` be masked in every log line."""
    url = f"https://b.example/o?{name}=true"
    assert redact_url(url) == url
