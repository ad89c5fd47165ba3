"""``redact_url`` and ``redact_text`` mask the same parameters, and ``bearer`` masks a credential only where it stands
before one. Was: ``?a=1;password=x`` shown by ``redact_url`` (masked by ``redact_text``), ``?%70assword=x`` shown by
``redact_text`` and in a URL's fragment (masked in ``redact_url``'s query), a URL encoded inside another's parameter
(``?next=…%3Faccess_token%3D…``) shown whole by both, ``X-Token=Bearer <token>`` showing the
token, and ``token_type=bearer expires_in=7200`` or "missing bearer token" masking ordinary words."""

from __future__ import annotations

import pytest
from filtered_logging import logged_through_filter
from masked_alike import assert_masked_alike

from fediscope.redact import redact_text, redact_url


@pytest.mark.parametrize(("url", "shown"), [
    ("https://h.example/p?a=1;password=pw-1234", "https://h.example/p?a=1;password=***"),
    ("https://h.example/p?a=1;password=pw-1234&b=2", "https://h.example/p?a=1;password=***&b=2"),
    ("https://h.example/p?x;y=2&q=a%20b;access_token=tk-9&z", "https://h.example/p?x;y=2&q=a%20b;access_token=***&z"),
    ("mysql+pymysql://fed@db:3306/fediscope?charset=utf8mb4;password=pw-1234",
     "mysql+pymysql://fed@db:3306/fediscope?charset=utf8mb4;password=***"),
    ("https://h.example/p?a=1;%70assword=pw-1234", "https://h.example/p?a=1;%70assword=***"),
    # a # after a secret is in its value for both (was: free text showed #cd, redact_url masked it)
    ("https://h.example/p?a=1;password=ab#cd", "https://h.example/p?a=1;password=***"),
    ("https://h.example/p?a=1;password=ab#cd&b=2", "https://h.example/p?a=1;password=***&b=2"),
    ("https://h.example/p?%70assword=ab#cd", "https://h.example/p?%70assword=***"),
    # pass and pwd, in a query, after a ; and in a fragment (a count of passes and a directory are no secret)
    ("https://h.example/login?user=u&pass=abc&x=1", "https://h.example/login?user=u&pass=***&x=1"),
    ("https://h.example/p?pass=1;password=ab&pwd=/srv;MYSQL_PWD=cd",
     "https://h.example/p?pass=1;password=***&pwd=/srv;MYSQL_PWD=***"),
    ("https://h.example/p?a=1#pass=2&pwd=ab", "https://h.example/p?a=1#pass=2&pwd=***"),
    # a name ending with _pass (a count of passes or a flag is none); PWD after a ; (ODBC's, not a directory)
    ("https://h.example/p?db_pass=ab&first_pass=2&all_pass=true",
     "https://h.example/p?db_pass=***&first_pass=2&all_pass=true"),
    ("https://h.example/p?a=1;PWD=/x-1&b=2", "https://h.example/p?a=1;PWD=***&b=2"),
    ("https://h.example/p?a=1#b=2;pwd=/x-1", "https://h.example/p?a=1#b=2;pwd=***"),
])
def test_redact_url_masks_a_parameter_after_a_semicolon(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact_text(f"GET {url} failed") == f"GET {shown} failed"  # free text says the same


@pytest.mark.parametrize("url", ["https://h.example/p?a=1;b=2&c=3", "https://h.example/p?a;b&c=x;y",
                                 "https://h.example/p?pass=1;words=2", "https://h.example/p?pwd=/srv/app&pass=2/3"])
def test_a_query_without_a_secret_stays_as_written(url: str) -> None:
    assert redact_url(url) == url


@pytest.mark.parametrize(("text", "shown"), [
    ("GET https://h.example/p?%70assword=pw-1234&b=2 failed", "GET https://h.example/p?%70assword=***&b=2 failed"),
    ("GET https://h.example/p?a=1&api%2Dkey=k-1234 failed", "GET https://h.example/p?a=1&api%2Dkey=*** failed"),
    ("posted user=alice&pass%77ord=pw-1234", "posted user=alice&pass%77ord=***"),
    ("posted %70assword=pw-1234&user=alice", "posted %70assword=***&user=alice"),
    ("posted a=1;password=ab#cd and a=1&%70assword=ab#cd", "posted a=1;password=*** and a=1&%70assword=***"),
    ("https://h.example/cb#%61ccess_token=tk-1234&state=s", "https://h.example/cb#%61ccess_token=***&state=s"),
    # encoded twice (%25 is the %): was read as %70assword, no secret's name
    ("GET https://h.example/p?%2570assword=pw-1234&b=2 failed", "GET https://h.example/p?%2570assword=***&b=2 failed"),
    ("posted user=alice&%252570assword=pw-1234", "posted user=alice&%252570assword=***"),
    ("https://h.example/cb#access%255Ftoken=tk-1234&state=s", "https://h.example/cb#access%255Ftoken=***&state=s"),
    # a URL encoded inside another's parameter (a login's next=, OAuth's redirect_uri=): its = is %3D (was: shown)
    ("GET https://a.example/login?next=https%3A%2F%2Fh%2Fcb%3Faccess_token%3Dabc123 ok",
     "GET https://a.example/login?next=https%3A%2F%2Fh%2Fcb%3Faccess_token%3D*** ok"),
    ("GET https://a.example/login?next=https%3A%2F%2Fh%2Fcb%3Fa%3D1%26token%3Dab%2526c%26d%3D2&x=1 ok",
     "GET https://a.example/login?next=https%3A%2F%2Fh%2Fcb%3Fa%3D1%26token%3D***%26d%3D2&x=1 ok"),
    ("https://a.example/o?redirect_uri=https%253A%252F%252Fh%252Fcb%253Fx%253D1%2526api_key%253Dk-1%2526y%253D2&z=1",
     "https://a.example/o?redirect_uri=https%253A%252F%252Fh%252Fcb%253Fx%253D1%2526api_key%253D***%2526y%253D2&z=1"),
    # a URL inside one inside another: the outer one's value is looked into
    ("https://a.example/login?next=%2Foauth%3Fnext%3Dhttps%253A%252F%252Fh%252Fcb%253Ftoken%253Dk-1%26b%3D1",
     "https://a.example/login?next=%2Foauth%3Fnext%3Dhttps%253A%252F%252Fh%252Fcb%253Ftoken%253D***%26b%3D1"),
    ("https://a.example/o#next=https%3A%2F%2Fh%2Fcb%23access_token%3Dtk-1%26token_type%3Dbearer&x=1",
     "https://a.example/o#next=https%3A%2F%2Fh%2Fcb%23access_token%3D***%26token_type%3Dbearer&x=1"),
    ("redirect_uri=https%3A%2F%2Fh%2Fcb%3Fflag%26db_pass%3Dpw-1&state=s q=password%3dpw-2",
     "redirect_uri=https%3A%2F%2Fh%2Fcb%3Fflag%26db_pass%3D***&state=s q=password%3d***"),
])
def test_a_percent_encoded_name_is_masked_in_text_and_url_alike(text: str, shown: str) -> None:
    assert_masked_alike(text, shown)  # the URL shown alone says the same


@pytest.mark.parametrize("text", [
    "GET https://h.example/p?q=a%20b&scope=read%20write&x%20y=1 ok",
    "https://h.example/cb#state=a%2Fb&x%3Dy=1",
    "GET https://h.example/p?%2570age=2&q%2520x=1 ok",  # encoded twice, no secret's name
    # a URL encoded inside another's parameter, without a secret (a count of passes is none)
    "GET https://a.example/p?next=%2Fhome%3Fpage%3D2%26sort%3Dnew&q=a%3Db ok",
    "GET https://a.example/p?next=https%3A%2F%2Fh%2Fcb%3Fpass%3D2%26first_pass%3D3%26tokens%3D5 ok",
])
def test_an_encoded_name_that_is_no_secret_stays(text: str) -> None:
    assert_masked_alike(text, text)


def test_the_quick_search_for_an_encoded_name_starts_at_its_last_escape() -> None:
    """The search that tells whether a text may hold an encoded name (``_ENCODED_NAME_END_RE``) finds one from its
    last escape, so a search from each escape of a long run ends at the next: was from the first, every search
    running to the run's end (quadratic: a line of 20,000 ``%25`` took 10 s to redact). It finds a name where it found
    one before, checked against the old pattern on every text of up to 5 characters of the letters that matter."""
    import itertools
    import re

    from fediscope.redact import _ENCODED_NAME_END_RE

    assert _ENCODED_NAME_END_RE.search("x " + "%25" * 100 + "=1").start() == 2 + 3 * 99
    assert _ENCODED_NAME_END_RE.search("%70ass%77ord=x").group() == "%77ord="
    before = re.compile(r"%[0-9A-Fa-f]{2}[\w.~+%-]*=")
    texts = ("".join(letters) for n in range(1, 6) for letters in itertools.product("%2a=&z", repeat=n))
    differ = [text for text in texts if bool(before.search(text)) != bool(_ENCODED_NAME_END_RE.search(text))]
    assert not differ, f"found by one pattern only: {differ[:5]}"


@pytest.mark.parametrize("unit", ["%25", "%2570", "a%41"])
def test_a_long_run_of_escapes_before_a_secret_still_masks_it(unit: str) -> None:
    text = "GET /p?" + unit * 2000 + "&%70assword=pw-1234 failed"
    assert redact_text(text) == "GET /p?" + unit * 2000 + "&%70assword=*** failed"


@pytest.mark.parametrize("text", [
    "token_type=bearer expires_in=7200",  # logfmt: an OAuth answer's fields
    "token_type=Bearer scope=read created_at=1767225600",
    "token_type: bearer expires_in: 7200",
    "token_type: bearer\nexpires_in: 7200",
    "missing bearer token for h.example",  # prose about tokens
    "the bearer tokens expired",
])
def test_bearer_as_a_value_or_a_word_swallows_nothing(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(("text", "shown"), [
    ("Authorization: Bearer tk-abcdef123456", "Authorization: Bearer ***"),
    ("refused (bearer tk-abcdef123456) by h.example", "refused (bearer ***) by h.example"),
    ("auth=Bearer tk-abcdef123456 sent", "auth=Bearer *** sent"),  # a scheme and its token, after a `=`
    ("X-Token=Bearer tk-abcdef123456 sent", "X-Token=Bearer *** sent"),  # was: X-Token=*** tk-abcdef123456
    ("access_token=bearer tk-abcdef123456", "access_token=bearer ***"),
    ("bearer token-abcdef123456 refused", "bearer *** refused"),  # a token that starts with the word
])
def test_a_bearer_token_is_still_masked(text: str, shown: str) -> None:
    assert redact_text(text) == shown


def test_a_log_record_masks_the_same() -> None:
    logged = logged_through_filter((), "fediscope.test_redact_agreement",
                                   "GET %s answered token_type=bearer expires_in=7200",
                                   "https://h.example/p?a=1;password=pw-1234&%70assword=pw-5678")
    assert "pw-1234" not in logged and "pw-5678" not in logged, logged
    assert "?a=1;password=***&%70assword=*** answered token_type=bearer expires_in=7200" in logged
