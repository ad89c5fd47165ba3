"""Secrets that were shown in clear beside the shapes and known values ``fediscope.redact`` already masked.

Was: a compound credential's name (``db_password=…``, ``{"smtp_password": …}``, ``my_api_token: …``) masked nothing;
an ``Authorization`` header with a scheme other than Bearer, Basic or Token had its scheme masked and its credential
shown (``Authorization: *** YIIabc``); a known secret percent-encoded in a URL was shown; of two known secrets that
overlap, the part of one outside the other was left (``ab***``); a ``Cookie`` header had only its first cookie
masked; and a failed task's exception group kept the secrets of its sub-exceptions (Python's traceback, and
Airflow's, shows each of them).
"""

from __future__ import annotations

import asyncio
import json
import traceback

import pytest
import requests
import sqlalchemy.exc

from fediscope import orchestration
from fediscope.redact import MASK, is_credential_name, redact_text, redact_url, redact_value

TOKEN = "tk-8sJ2mQ4xV7nB1cZ9kL5pR3wT6yH0dF2gA4eU7iO"
#: Secrets fediscope does not know, in the sub-exceptions of a group (named here: a traceback quotes its source lines).
NEGOTIATED, DB_PASSWORD, SMTP_PASSWORD = "YIIxyz", "Pw-9x7", "hunter2"


# -- 1. compound credential names --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("db_password=hunter2", "db_password=***"),
    ("DB_PASSWORD=hunter2 --db-password=hunter2", "DB_PASSWORD=*** --db-password=***"),
    ("my_api_token: abc", "my_api_token: ***"),
    ('{"smtp_password": "x", "smtp_user": "u"}', '{"smtp_password": "***", "smtp_user": "u"}'),
    ("{'webhook_secret': 'x', 'accessToken': 'y'}", "{'webhook_secret': '***', 'accessToken': '***'}"),
    ("aws_secret_access_key=abc s3_access_key=AKIA ssh_private_key: k", "aws_secret_access_key=*** "
                                                                          "s3_access_key=*** ssh_private_key: ***"),
    ("spring.datasource.password=x csrftoken=y", "spring.datasource.password=*** csrftoken=***"),
    ("('smtp_password', 'x')", "('smtp_password', '***')"),
    ("GET https://h/x?db_password=abc&page=2", "GET https://h/x?db_password=***&page=2"),
])
def test_a_compound_credentials_name_masks_its_value(text: str, expected: str) -> None:
    # beside names that are no credential's: counters of tokens, names that only start with a credential's word
    harmless = ("tokens_used=5 max_tokens=512 max_token=5 token_count=2 password_hint=x secret_santa=bob "
                "client_secret_expires_at=0 FEDISCOPE_API_KEY=secret:ro")
    assert redact_text(f"{harmless} {text}") == f"{harmless} {expected}"


def test_a_dict_item_or_a_query_parameter_under_a_compound_name_is_masked() -> None:
    value = {"db_password": "hunter2", "smtpPassword": "x", "max_tokens": "512", "tokens_used": "5"}
    assert redact_value(value) == {**value, "db_password": MASK, "smtpPassword": MASK}
    assert [is_credential_name(n) for n in ("my_api_token", "tokens", "max_token", "FEDISCOPE_API_KEY")] == \
        [True, False, False, False]
    assert redact_url("mysql+pymysql://u@db/x?ssl_db_password=abc&charset=utf8") == \
        "mysql+pymysql://u@db/x?ssl_db_password=***&charset=utf8"


# -- 2. any authentication scheme --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("Authorization: Negotiate YIIabc123", "Authorization: Negotiate ***"),
    ("Proxy-Authorization: DPoP eyJ0eXAi.x.y", "Proxy-Authorization: DPoP ***"),
    ("{'Authorization': 'Digest username=\"u\", response=\"6629fae4\"', 'Accept': '*/*'}",
     "{'Authorization': 'Digest ***', 'Accept': '*/*'}"),
    ('{"authorization": "AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=fe5f80f77d"}',
     '{"authorization": "AWS4-HMAC-SHA256 ***"}'),
    # a word that may be a scheme or the credential itself: masked with what follows
    ("Authorization: Splunk 8f14e45f-ceea-467a\nAuthorization: eyJ0eXAi.x.y was rejected",
     "Authorization: *** ***\nAuthorization: *** was rejected"),
    ("b'X-API-Key: custom c2VjcmV0'", "b'X-API-Key: *** ***'"),
    # a known scheme ending its line, the token alone on the next (folded, wrapped): was the scheme masked, the token
    # shown
    ("Authorization: Bearer\n  tk-abcdef123456\nnext line", "Authorization: Bearer\n  ***\nnext line"),
    ("Proxy-Authorization: Negotiate\r\n\tYIIabc/123+x==", "Proxy-Authorization: Negotiate\r\n\t***"),
    # the next line is no lone token: left as it is (the word before it masked, as ever)
    ("Authorization: Bearer\nretrying in 5s\nX-Other: 1", "Authorization: ***\nretrying in 5s\nX-Other: 1"),
    ("Authorization: Bearer\nX-Other: 1", "Authorization: ***\nX-Other: 1"),
])
def test_the_credential_after_any_scheme_is_masked(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_a_header_dict_item_shows_a_known_scheme() -> None:
    assert redact_value({"Authorization": "Negotiate YIIabc", "X": b"Digest a"}) == \
        {"Authorization": "Negotiate ***", "X": b"Digest a"}


# -- 3. known secrets percent-encoded ----------------------------------------------------------------------------------
def test_a_known_secret_is_masked_percent_encoded_and_in_any_case() -> None:
    secret = "Qa+9b/Zc=Tk7"  # a base64-like value: + / = are encoded in a query
    space = "horse battery"
    url = requests.Request("GET", "https://h.example/api", params={"q": secret, "s": space}).prepare().url
    assert "Qa%2B9b%2FZc%3DTk7" in url and "horse+battery" in url
    line = f"GET {url} failed; retry with {secret.upper()} or {secret}; in a path /x/Qa%2B9b/Zc%3dTk7/"
    assert redact_text(line, [secret, space]) == \
        "GET https://h.example/api?q=***&s=*** failed; retry with *** or ***; in a path /x/***/"
    assert redact_text("horse%20battery and horse battery", [space]) == "*** and ***"
    # a short one still stands alone only
    assert redact_text("a%2Bbc and xa%2Bbc", ["a+bc"]) == "*** and xa%2Bbc"


def test_a_store_password_is_known_also_decoded() -> None:
    from fediscope.redact import url_secrets

    assert url_secrets("mysql+pymysql://u:p%40ss%2Fw0rd@db/x") == ["p%40ss%2Fw0rd", "p@ss/w0rd"]


# -- 4. overlapping known secrets --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("secrets", "text"), [
    (["abcdefghijklmnop", "cdefghijklmnopqrstu"], "x abcdefghijklmnopqrstu y"),  # one's end, the other's start
    (["abcdefghijklmn12", "mn12345678901234"], "x abcdefghijklmn12345678901234 y"),  # as long as each other
])
def test_overlapping_known_secrets_leave_no_fragment(secrets: list[str], text: str) -> None:
    assert redact_text(text, secrets) == "x *** y"


# -- 5. cookies --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("Cookie: a=1; session=s3cr3t; b=2", "Cookie: a=***; session=***; b=***"),
    ("{'Cookie': 'lang=en; _mastodon_session=abc123'}", "{'Cookie': 'lang=***; _mastodon_session=***'}"),
    ("Set-Cookie: session=abc; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly, remember=xyz; Secure",
     "Set-Cookie: session=***; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly, remember=***; Secure"),
])
def test_every_cookie_of_a_header_is_masked(text: str, expected: str) -> None:
    assert redact_text(text) == expected


# -- 6. exception groups in a failed task ------------------------------------------------------------------------------
class _SelfDescribing(Exception):
    """An error whose ``__str__`` is its own (as SQLAlchemy's): masking its args changes nothing."""

    def __str__(self) -> str:
        return f"cannot use token {TOKEN}"


async def _fail(exc: BaseException) -> None:
    raise exc


async def _fail_caused() -> None:
    try:
        raise RuntimeError(f"connect mysql+pymysql://u:{DB_PASSWORD}@db/x failed")
    except RuntimeError as cause:
        raise ValueError("store unreachable") from cause


async def _four_failures() -> None:
    async with asyncio.TaskGroup() as group:
        group.create_task(_fail(OSError(f"instance said: Authorization: Negotiate {NEGOTIATED}, token {TOKEN}")))
        group.create_task(_fail(_SelfDescribing()))
        group.create_task(_fail_caused())
        refused = Exception(f"smtp_password={SMTP_PASSWORD}")
        group.create_task(_fail(sqlalchemy.exc.OperationalError("SELECT 1", {}, refused)))


def test_a_failed_tasks_exception_group_is_masked_sub_exceptions_and_their_chains(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orchestration, "_TASK_SECRETS", {TOKEN})
    with pytest.raises(BaseExceptionGroup) as raised, orchestration.failing_at_once():
        asyncio.run(_four_failures())
    shown = "".join(traceback.format_exception(raised.value))
    for secret in (TOKEN, NEGOTIATED, DB_PASSWORD, SMTP_PASSWORD):
        assert secret not in shown, shown
    assert "OSError: instance said: Authorization: Negotiate ***, token ***" in shown, shown
    assert "_SelfDescribing: cannot use token ***" in shown, shown
    assert "RuntimeError: connect mysql+pymysql://u:***@db/x failed" in shown, shown
    assert len(raised.value.exceptions) == 4


def test_a_groups_message_holding_a_secret_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orchestration, "_TASK_SECRETS", {TOKEN})
    group = ExceptionGroup(f"with {TOKEN}", [ValueError("x")])
    masked = orchestration.masked_exception(group)
    assert str(masked) == "with *** (1 sub-exception)"
    assert isinstance(masked, ExceptionGroup) and masked.exceptions == group.exceptions
    assert json.dumps(str(masked))  # still a plain text
