"""``redact_text`` masks in free text (a log line, an error quoting a URL) what :func:`~fediscope.redact.redact_url`
masks in a URL: a signed URL's signature (``X-Amz-Signature``, ``X-Goog-Signature``, ``oauth_signature``) and a
session, JWT or bearer token passed as a query parameter (``?session=``, ``?jwt=``, ``?bearer=``); and ``jwt=…`` and
``bearer=…`` written alone. Was: kept in free text (an error quoting a presigned link showed its signature), while the
same URL shown through ``redact_url`` had it masked; ``session``, ``jwt`` and ``bearer`` parameters were shown by both.
"""

from __future__ import annotations

import pytest
from filtered_logging import logged_through_filter
from masked_alike import assert_masked_alike

from fediscope.redact import redact_text

SIGNED = ("https://bucket.s3.example/o.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20260101"
          "&X-Amz-Signature=5f1c0e9a7b3d2c4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6")


@pytest.mark.parametrize(("text", "shown"), [
    (f"GET {SIGNED} failed: 403", f"GET {SIGNED.rpartition('=')[0]}=*** failed: 403"),
    ("image https://storage.example/b/o?X-Goog-Signature=0a1b2c3d4e5f&x=1 not fetched",
     "image https://storage.example/b/o?X-Goog-Signature=***&x=1 not fetched"),
    ("https://h.example/cb?oauth_signature=wOJIO9A2W5mFwDgiDvZbTSMK%2FPY%3D&oauth_nonce=1 refused",
     "https://h.example/cb?oauth_signature=***&oauth_nonce=1 refused"),
    ("redirected to https://h.example/app?session=8f14e45fceea167a5a36dedd4bea2543 (302)",
     "redirected to https://h.example/app?session=*** (302)"),
    ("https://h.example/ws?stream=user&jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl closed",
     "https://h.example/ws?stream=user&jwt=*** closed"),
    ("https://h.example/ws?bearer=0123456789abcdef closed", "https://h.example/ws?bearer=*** closed"),
    ("auth failed: jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "auth failed: jwt=***"),
    ("auth failed: bearer=0123456789abcdef, retrying", "auth failed: bearer=***, retrying"),
])
def test_free_text_masks_what_redact_url_masks(text: str, shown: str) -> None:
    assert_masked_alike(text, shown)  # the URL shown alone says the same


@pytest.mark.parametrize("text", [
    "token_type=bearer, expires_in=7200",  # an OAuth answer's token type: a value, not a credential
    "https://h.example/p?signature_version=4&require_signature=true",
    "spawned with start_new_session=True",  # a session flag, not a session
    "Authorization: Bearer *** sent",
])
def test_what_is_no_credential_stays(text: str) -> None:
    assert redact_text(text) == text


def test_a_log_record_quoting_a_signed_url_is_masked() -> None:
    logged = logged_through_filter((), "fediscope.test_free_text_params", "card image %s not fetched", SIGNED)
    assert "5f1c0e9a7b3d" not in logged and "X-Amz-Signature=***" in logged
