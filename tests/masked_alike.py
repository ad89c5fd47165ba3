"""What free text and a URL shown alone say of the same secret: the same (the redaction tests' shared check)."""

from __future__ import annotations

from fediscope.redact import redact_text, redact_url


def assert_masked_alike(text: str, shown: str) -> None:
    """``redact_text(text)`` is ``shown``, and each URL of ``text`` shown alone through ``redact_url`` reads as it
    does there."""
    assert redact_text(text) == shown
    for url in (word for word in text.split() if "://" in word):
        assert redact_url(url) in shown, redact_url(url)
