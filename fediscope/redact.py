"""Keep secrets out of logs and messages: access tokens, API keys, the pseudonym key, passwords in URLs.

Two layers, after dlt's ``rest_client/redaction.py``: values that are *shapes* of secrets are masked wherever
they appear (``Authorization: Bearer …``, ``X-API-Key: …``, ``access_token=…`` in a query string, the
password of ``scheme://user:password@host``, the value after a credential's name in ``access_token=…``,
``password: …``, ``{'client_secret': '…'}``, ``{"access_token": "…"}`` or a command line's ``--password …``:
:data:`CREDENTIAL_NAMES`, :data:`_SPACED_NAME_RE`; a ``.netrc`` entry's ``machine h login u password …``:
:data:`_NETRC_ENTRY_RE`; a secret parameter of a URL encoded inside another's, ``?next=…%3Ftoken%3D…``:
:data:`_NESTED_PARAM_RE`), and values
that are *known* secrets (from the active settings) are masked verbatim (a short one only where it stands alone,
not inside a longer word: :func:`mask_secrets`).
:class:`RedactingFilter` applies both to every log record a handler emits, including the text of tracebacks.
Some names are judged by their value as well: after ``pass`` or a name ending with ``_pass``, ``-pass`` or ``.pass``
(``db_pass``, ``SMTP_PASS``) a count of passes, a flag or a duration is no secret (``first_pass=2``,
``multi_pass=true``, ``second_pass 3.1s``: such names often count or time passes) and anything else is; after
``PWD`` a path is the shell's working directory (``PWD=/home/x``), unless the name follows a ``;``, as in an ODBC
connection string (``UID=u;PWD=/x``): a password (:data:`_NAMED_NOT_A_VALUE`).
Mastodon.py's own debug output prints request headers, bearer token included: never enable it; this filter is
the second line of defence, not the first.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from fediscope.console import (
    PRINTABLE_MESSAGE,
    PrintableValues,
    escapes_values,
    left_printable_message,
    printable,
    printable_message,
)

MASK = "***"
#: Query parameters whose values are credentials (OAuth, Mastodon, generic API conventions).
SECRET_PARAMS = frozenset({"access_token", "refresh_token", "token", "api_key", "apikey", "key", "password",
                           "passwd", "ssl_key_password", "secret", "client_secret", "code", "signature", "sig",
                           "auth", "delegation"})  # delegation: the WebHDFS token parameter
#: Shortest known secret that is masked verbatim (shorter ones would garble ordinary text; config check
#: flags them as weak anyway).
MIN_SECRET_LENGTH = 4
#: Known secrets at least this long are masked wherever they occur, even inside a longer run of letters; shorter
#: ones only where they stand alone (see :func:`mask_secrets`).
SUBSTRING_SECRET_LENGTH = 12

#: The password of fediscope's own URL templates (``mysql+pymysql://user:<password>@host:3306/<database>``), which
#: the shape rule below leaves alone so that a hint reads the same in every output (a doctor line, a log record, an
#: Airflow task's error). Only this exact text is spared: a real password is masked whatever it is, and also this
#: one when it is a known secret (:func:`mask_secrets` runs first).
PASSWORD_PLACEHOLDER = "<password>"
#: Where a URL password may start in free text: ``scheme://user:`` (the user may be empty, ``redis://:pw@host``; an
#: IPv6 host ``[::1]:8080`` is no user). A quote just before the URL is captured: the URL ends at its twin.
_URL_USERINFO_START_RE = re.compile(r"(?P<quote>['\"]?)\b(?P<prefix>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s\[\]'\"]*:)")
#: ``host:8080/…``: after ``scheme://host:`` a port and a path, not a password (``http://127.0.0.1:8123/@alice``).
_PORT_AND_PATH_RE = re.compile(r"\d{1,5}/")
#: The start of another URL: a password does not run into the next URL on the same line.
_URL_START_RE = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://")
_WHITESPACE_RE = re.compile(r"\s")
#: Header names whose value is a credential, in any case (``Authorization``, ``AUTHORIZATION``, ``x-api-key``;
#: ``Proxy-Authorization`` too): those that carry a scheme and a credential, and the cookie headers.
_AUTH_HEADER_NAMES = r"\b(?:authorization|x-api-key|api-key|x-auth-token)"
_COOKIE_HEADER_NAMES = r"\b(?:cookie|set-cookie)"
_HEADER_NAMES = r"\b(?:authorization|x-api-key|api-key|x-auth-token|cookie|set-cookie)"
#: A quoted string in a list or tuple's repr (to its twin quote, else to the end of the line: a message cut short).
_QUOTED_ITEM = r"'(?:\\.|[^'\\\n])*+'?|\"(?:\\.|[^\"\\\n])*+\"?"
#: A header's name, then its value: a list or tuple (``{'Cookie': ['sid=…']}``, the repr of a header with several
#: values), taken to its closing bracket (without backtracking: possessive), or an opening quote (a ``b`` before it:
#: bytes; ``bytearray(b``) and what follows it (:data:`_AUTH_HEADER_RE`, :data:`_COOKIE_HEADER_RE`).
_HEADER_START = (r"(?P<prefix>{names}['\"]?\s*[:=]\s*)(?:(?P<items>[\[(](?:" + _QUOTED_ITEM
                 + r"|[^\])'\"\n])*+[\])]?)|(?P<opening>(?:bytearray\()?b?(?P<q>['\"])|)")
#: Authentication schemes whose name is shown before the masked credential (``Bearer ***``): IANA's registry and
#: common others. Any other word before a credential is masked with it (``Authorization: *** ***``): it may be the
#: credential itself, followed by prose (:func:`_mask_header_value`).
AUTH_SCHEMES = ("bearer", "basic", "token", "digest", "negotiate", "ntlm", "kerberos", "dpop", "mac", "hoba",
                "mutual", "oauth", "gnap", "privatetoken", "concealed", "scram-sha-1", "scram-sha-256", "vapid",
                "aws4-hmac-sha256", "hawk", "apikey", "jwt")
#: After an auth header's name and opening quote: a word shaped like a scheme (any: ``Bearer``, ``Negotiate``,
#: ``Splunk``) and whitespace, then either auth-params (``Digest username="u", response="…"``: to the twin of the
#: opening quote, else to the end of the line) or one run of characters (a token).
#: Or a known scheme (:data:`AUTH_SCHEMES`) that ends its line, and a token (RFC 6750's ``token68``) alone on the next
#: (a header folded onto a continuation line, a wrapped log line): ``Authorization: Bearer\n  <token>``. Was: the
#: scheme masked as if it were the credential, the token on the next line shown.
_FOLDED_SCHEME = (r"(?P<folded>(?:" + "|".join(sorted(AUTH_SCHEMES, key=len, reverse=True)) + r")(?![\w-])[ \t]*\r?\n"
                  r"[ \t]*(?=[A-Za-z0-9\-._~+/]+=*[ \t]*(?:\r?\n|\Z)))")
_AUTH_HEADER_RE = re.compile(
    _HEADER_START.format(names=_AUTH_HEADER_NAMES)
    + r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9-]*)[ \t]+(?=[^\s'\",}])|" + _FOLDED_SCHEME + r")?"
    r"(?:(?P<params>[A-Za-z][\w.-]*=(?=[^\s=,}])(?(q)(?:\\.|(?!(?P=q))[^\\\n])*|[^\n]*))"
    r"|(?P<value>[^\s'\",}]+)))", re.IGNORECASE)
#: A cookie header's ``name=value`` pairs (``Cookie: a=1; session=…; b=2``), separated by ``;`` or ``,`` (several
#: ``Set-Cookie`` values joined), ``Set-Cookie``'s ``Expires`` date (with its comma and spaces) one of them.
_COOKIE_ITEM = r"(?:expires=[A-Za-z]{3},[ \t]*\d{1,2}[ -][A-Za-z]{3}[ -]\d{2,4}[ \t]+[\d:]+(?:[ \t]+GMT)?|[^\s'\";,}]+)"
_COOKIE_HEADER_RE = re.compile(
    _HEADER_START.format(names=_COOKIE_HEADER_NAMES)
    + r"(?P<value>" + _COOKIE_ITEM + r"(?:[ \t]*[;,][ \t]*" + _COOKIE_ITEM + r")*))", re.IGNORECASE)
_COOKIE_ITEM_RE = re.compile(_COOKIE_ITEM, re.IGNORECASE)
#: ``Set-Cookie``'s attributes, which are no secret (their values are shown: ``Path=/``).
_COOKIE_ATTRIBUTES = frozenset({"path", "domain", "expires", "max-age", "samesite", "secure", "httponly",
                                "partitioned", "priority"})
#: One such quoted string, its quotes (and the ``b`` of bytes) apart from its text.
_QUOTED_ITEM_RE = re.compile(r"(?P<open>b?(?P<q>['\"]))(?P<text>(?:\\.|(?!(?P=q))[^\\\n])*+)(?P<close>(?P=q)?)")
#: A dict key naming such a header (``{"X-API-Key": …}`` passed with ``extra=``, which a JSON line shows as it is).
_HEADER_KEY_RE = re.compile(_HEADER_NAMES + r"$", re.IGNORECASE)
_AUTH_SCHEME_RE = re.compile(r"(?:" + "|".join(sorted(AUTH_SCHEMES, key=len, reverse=True)) + r")\s+",
                             re.IGNORECASE)
_KNOWN_SCHEME_RE = re.compile(r"(?:" + "|".join(sorted(AUTH_SCHEMES, key=len, reverse=True)) + r")",
                              re.IGNORECASE)
#: ``bearer <token>`` in prose, not ``bearer token(s)`` (the words: "missing bearer token"; was masked as a credential).
_BEARER_RE = re.compile(r"(?P<prefix>\bbearer\s+)(?!tokens?(?![A-Za-z0-9\-._~+/=]))(?P<value>[A-Za-z0-9\-._~+/=]{4,})",
                        re.IGNORECASE)
#: Just before a ``bearer`` (:func:`_mask_bearer`): the value of a token's type (``token_type=bearer``,
#: ``token_type: bearer``, ``"tokenType": bearer``), or of any other ``=``.
_BEARER_AS_VALUE_RE = re.compile(r"(?:(?P<typed>type['\"]?[ \t]*[:=])|=)[ \t]*\Z", re.IGNORECASE)
#: A ``name=value`` pair (what follows a ``bearer`` in a ``key=value`` line: ``token_type=bearer expires_in=7200``).
_PAIR_RE = re.compile(r"[A-Za-z_][\w.-]*=(?!=)")
#: ``scheme://user:password@``: a database password may hold ``/``, ``?`` or ``#`` unencoded, which ends the netloc
#: for :func:`urllib.parse.urlsplit`; :func:`redact_url` masks it to the last ``@`` of the authority
#: (:func:`_userinfo_end`), so that one with an unencoded ``@`` is not half shown either. The text is one URL (a
#: setting's value, an ``instance`` parameter), so a blank or control character is part of it, not its end: a
#: password with a blank and a ``/`` (``https://alice:pw /@host``) was shown whole, the blank stopping this pattern
#: and the ``/`` ending ``urlsplit``'s netloc; so are blanks and control characters before the scheme, which
#: ``urlsplit`` drops too.
_USERINFO_RE = re.compile(r"^(?P<prefix>[\x00-\x20]*[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@]*:)(?P<pw>[^@]*)@")

#: Names whose value is a credential wherever it is written after them, in any case: ``name=value`` (a form body, a
#: DSN's options, a shell line, a repr's ``name='value'``), ``name: value`` (YAML, a header-like line), ``'name':
#: 'value'`` and ``"name": "value"`` (a dict's repr, a JSON body: Mastodon's app registration and OAuth token
#: answers) and ``('name', 'value')`` (the repr of Mastodon.py's answer objects, ordered dicts). Secrets fediscope
#: does not know — a token for another instance, an app's client secret, a password in a DSN — are masked this way.
#: So are names that end with a credential's word (:data:`CREDENTIAL_SUFFIXES`) after a prefix: ``db_password``,
#: ``my_api_token``, ``smtp-password``, ``spring.datasource.password``, ``aws_secret_access_key``, ``csrftoken``,
#: ``accessToken`` (:data:`_CREDENTIAL_NAME`). The name must end with the word: ``token_type``,
#: ``client_secret_expires_at``, ``password_hint``, ``tokens``, ``tokens_used`` and ``max_tokens`` are none of them;
#: nor are a counter of tokens (``max_token``, ``num_token``) and ``FEDISCOPE_API_KEY`` (a name in fediscope's own
#: hints and docs, ``FEDISCOPE_API_KEY=secret:ro``, whose value is a known secret anyway).
#: ``pass`` and ``pwd`` (``pass=…`` of a form or a config file, ODBC's ``PWD=…``) are names of their own, not words a
#: compound name ends with after a letter (``bypass``, ``compass`` are none); both also after a separator
#: (``MYSQL_PWD``, ``db-pwd``, ``db_pass``, ``DB_PASS``, ``smtp.pass``, Ansible's ``ansible_become_pass``). What they
#: hold is no secret where it is a count of passes or a flag after a ``pass`` name (``first_pass=2``,
#: ``multi_pass: true``) or the shell's working directory after ``PWD`` (:data:`_NAMED_NOT_A_VALUE`). Was: all
#: shown, and later a name ending with ``_pass`` still shown (``db_pass=…``, ``DB_PASS=…``).
CREDENTIAL_NAMES = ("access_token", "refresh_token", "id_token", "client_secret", "api_key", "apikey", "password",
                    "passwd", "secret", "token", "pass", "pwd")
#: The words a compound credential's name ends with (``_`` or ``-`` inside them optional: ``apiKey``, ``api-key``).
#: ``jwt`` and ``bearer``: a token's kind written as its name (``jwt=eyJ…``, ``bearer=…``; was: shown in free text).
CREDENTIAL_SUFFIXES = ("password", "passwd", "secret", "token", "api_key", "apikey", "access_key", "private_key",
                       "secret_key", "jwt", "bearer")
#: A credential's name: one of :data:`CREDENTIAL_NAMES`, or letters, digits and ``. _ -`` that end with one of
#: :data:`CREDENTIAL_SUFFIXES`, not a counter nor a ``FEDISCOPE_`` setting's. The run of such characters is taken whole
#: (possessive: a name is followed by ``=``, ``:`` or a quote), then its end is looked at: one search per word.
_SUFFIX_ENDS = "|".join(f"(?<={variant})" for word in CREDENTIAL_SUFFIXES
                        for variant in dict.fromkeys([word, word.replace("_", "-"), word.replace("_", "")]))
_SHORT_NAME_ENDS = r"(?<=pass)(?<![A-Za-z0-9]pass)|(?<=pwd)(?<![A-Za-z0-9]pwd)"
_CREDENTIAL_NAME = (r"(?!fediscope_)(?!(?:max|min|num|total|n)[_-]?token(?![\w.-]))"
                    r"[A-Za-z0-9][A-Za-z0-9._-]*+(?:" + _SUFFIX_ENDS + "|" + _SHORT_NAME_ENDS + ")")
#: Of those, the plain words prose puts before a colon (doctor's "set an access token: FEDISCOPE_TOKEN_…=… or
#: [tokens] in fediscope.toml"): their value is masked after ``=`` or as a quoted key's, not after a bare ``name: ``.
_PROSE_NAMES = frozenset({"pass", "secret", "token"})
#: What stands after a credential's name in fediscope's own hints and docs, in place of a value: a shell substitution
#: or variable (``$(python3 -c …)``, ``${KEY}``, ``$API_KEY``), a placeholder in lower case (``<key>``, ``<your
#: token>``), an ellipsis, an absent value (``None``, ``null``). Never masked, so a hint reads the same everywhere.
_PLACEHOLDERS = r"<[a-z][a-z_ -]*>|…|\.\.\."
_NOT_A_VALUE_RE = re.compile(r"\$[({].*|\$[A-Z_][A-Z0-9_]*|" + _PLACEHOLDERS + r"|None|null|\*\*\*", re.DOTALL)
#: MariaDB's "Access denied for user 'u'@'h' (using password: YES)": whether a password was sent, not which.
_COLON_NOT_A_VALUE = frozenset({"YES", "NO"})
#: What is no secret after one name: the shell's working directory after ``PWD`` (``PWD=/home/alice`` in a dump of
#: an environment; ODBC's ``PWD=…`` is a password, and so is one starting with ``/`` after a ``;``, inside a
#: connection string: ``UID=u;PWD=/x``), a count of passes (up to 3 digits: ``pass=2``, ``pass=1/3``), a flag
#: (``true``, ``false``) or a pass's duration or share (a number with a decimal part or a unit: ``12.5``, ``3.1s``,
#: ``120ms``, ``50%``) after ``pass`` or a name ending with ``_pass``, ``-pass`` or ``.pass`` (``first_pass=2``,
#: ``multi_pass: true``, ``second_pass 3.1s``: such names count, switch or time passes; ``db_pass=1234`` is masked).
_NAMED_NOT_A_VALUE = {"pwd": re.compile(r"/.*", re.DOTALL),
                      "pass": re.compile(r"\d{1,3}(?:/\d{1,3})?|true|false|\d{1,6}(?:\.\d{1,6})?(?:[nuµm]?s|min|h|%)"
                                         r"|\d{1,6}\.\d{1,6}", re.IGNORECASE)}


def _is_named_no_value(name: str, value: str, after_semicolon: bool = False) -> bool:
    """Whether ``value``, written after the credential's name ``name``, is no secret for that name
    (:data:`_NAMED_NOT_A_VALUE`). In a query or after ``name=`` the value is taken to its first ``;``, where another
    parameter may start (``pass=1;password=…``: that one is masked on its own). ``after_semicolon``: the name follows
    a ``;`` (blanks between allowed), as in an ODBC connection string, where ``PWD`` is a password whatever it holds
    (``…;UID=u;PWD=/x``; was: shown as if it were a directory)."""
    lowered = name.lower()
    word = "pass" if lowered[-5:] in ("_pass", "-pass", ".pass") else lowered
    if word == "pwd" and after_semicolon:
        return False
    pattern = _NAMED_NOT_A_VALUE.get(word)
    return pattern is not None and pattern.fullmatch(value) is not None


#: A ``;`` and blanks, ending a text: what stands before a name in a ``;``-separated list (:func:`_is_named_no_value`).
_SEMICOLON_BEFORE_RE = re.compile(r";[ \t]*\Z")


def _follows_semicolon(text: str, pos: int) -> bool:
    """Whether ``text`` has a ``;`` (then blanks, or nothing) just before ``pos``."""
    return _SEMICOLON_BEFORE_RE.search(text, max(0, pos - 20), pos) is not None


def _names(names: Iterable[str]) -> str:
    return "|".join(sorted(names, key=len, reverse=True))


#: Query parameters that carry a credential under a name that is no credential's name elsewhere: a signed URL's
#: signature (``X-Amz-Signature``, ``X-Goog-Signature``, ``oauth_signature``; not a flag about signatures,
#: ``require_signature=true``, whose ``true`` would become a known secret masked everywhere) and a session, JWT or
#: bearer token passed in the query (``?session=``, ``?jwt=``, ``?bearer=``: a web socket's or a redirect's). Masked
#: as query (or fragment) parameters alone, in a URL (:func:`redact_url`) and in free text (:func:`redact_text`)
#: alike: a bare ``session=`` in text is most often no secret (``start_new_session=True``). Was: :func:`redact_url`
#: masked the signatures while :func:`redact_text` showed them (an error quoting a presigned link), and neither
#: masked the tokens.
_TOKEN_PARAMS = r"x-amz-signature|x-goog-signature|oauth_signature|session|jwt|bearer"

#: A secret query parameter and its value (to ``&``, whitespace or a quote). A ``#`` is part of it, as
#: :func:`redact_url` reads a ``#`` after a secret parameter (SQLAlchemy has no fragment: ``?password=ab#cd`` is the
#: password ``ab#cd``) and as a bare ``password=ab#cd`` is masked: which URL a text quotes cannot be told, and a web
#: URL's fragment after a secret is worth less than the rest of a password. Was: ``?a=1;password=ab#cd`` in free text
#: showed ``#cd``, where the same URL shown alone was masked whole.
_PARAM_RE = re.compile(r"(?P<prefix>[?&;](?:" + _names(SECRET_PARAMS) + "|" + _TOKEN_PARAMS + "|" + _CREDENTIAL_NAME
                       + r")=)(?P<value>[^&\s'\"]+)", re.IGNORECASE)


#: A query (or form) parameter whose name is percent-encoded in part (``?%70assword=…``, ``&access%5Ftoken=…``),
#: standing alone: only an encoder writes such a name. Masked where the name, decoded as ``parse_qsl`` decodes it, is a
#: secret parameter's (:func:`_is_secret_param`), in free text as :data:`_PARAM_RE` masks a plain one (its value to
#: ``&``, whitespace or a quote) and in a URL's fragment (its value to ``&``:
#: :data:`_ENCODED_FRAGMENT_PARAM_RE`).
#: Was: masked by :func:`redact_url` in a query, shown by :func:`redact_text` and in a fragment. No class before ``%``
#: holds ``%``, nor ``=`` the one after it: no backtracking.
_ENCODED_PARAM = r"(?P<prefix>(?<![\w.~+%-])(?P<name>[\w.~+-]*%[0-9A-Fa-f]{2}[\w.~+%-]*)=)"
_ENCODED_PARAM_RE = re.compile(_ENCODED_PARAM + r"(?P<value>[^&\s'\"]+)")
_ENCODED_FRAGMENT_PARAM_RE = re.compile(_ENCODED_PARAM + r"(?P<value>[^&]+)")
#: The end of such a name: a search for it starts at a ``%`` (fast), where one for the whole name starts anywhere. It
#: is found from the name's last escape, which no other escape follows: a search from each escape of a long run of them
#: ends at the next (was: at the run's end, quadratic: 20,000 ``%25`` in a line took 10 s to redact).
_ENCODED_NAME_END_RE = re.compile(r"%[0-9A-Fa-f]{2}(?:[\w.~+-]|%(?![0-9A-Fa-f]{2}))*+=")


def _mask_encoded_names(text: str, pattern: re.Pattern[str] = _ENCODED_PARAM_RE) -> str:
    """``text`` with the value of each secret parameter whose name is percent-encoded (:data:`_ENCODED_PARAM_RE`)
    masked."""
    if _ENCODED_NAME_END_RE.search(text) is None:  # the common case (``%20`` in a value): a quick search
        return text
    return pattern.sub(lambda m: m.group("prefix") + MASK if _is_secret_param(_decoded_name(m.group("name")))
                       else m.group(), text)


#: A parameter of a URL percent-encoded inside another URL's parameter (an OAuth ``redirect_uri=``, a login's
#: ``next=``: ``?next=https%3A%2F%2Fh%2Fcb%3Faccess_token%3Dabc``), once or more (``%253D``: encoded twice): a
#: separator (``?``, ``&``, ``;`` or ``#`` encoded, or the outer parameter's own ``=``), a name without an encoded
#: separator in it, and an ``=`` encoded as many times as that separator (``depth``: the ``25`` of each ``%25``).
#: Its value runs to an ``&`` of its depth or a shallower one, whitespace or a quote (:func:`_nested_value_end`);
#: masked where its name is a secret parameter's (:func:`_is_secret_param`), in :func:`redact_url`'s query and
#: fragment and in free text alike. Was: shown whole, its ``=`` being ``%3D``.
_NESTED_PARAM_RE = re.compile(
    r"(?:(?P<eq>=)|%(?P<depth>(?:25)*)(?:3F|26|3B|23))"
    r"(?P<name>(?:[\w.~+-]|%(?!(?:25)*(?:26|3D|3F|3B|23))[0-9A-Fa-f]{2})++)%(?(eq)|(?P=depth))3D\Z", re.IGNORECASE)
#: An encoded ``=``: where such a parameter's name ends. Each is found first (a search for a ``%``: fast), then its
#: name and separator just before it (in :data:`_NESTED_NAME_REACH` characters at most).
_NESTED_EQUALS_RE = re.compile(r"%(?:25)*3D", re.IGNORECASE)
_NESTED_NAME_REACH = 256


@functools.lru_cache(maxsize=8)
def _nested_value_end(depth: int) -> re.Pattern[str]:
    """Where the value of a parameter encoded ``depth`` times past its first encoding ends: at an ``&`` encoded as
    many times or fewer (a deeper one is inside the value), whitespace or a quote."""
    return re.compile(r"[&\s'\"]|%(?:25){0," + str(depth) + "}26", re.IGNORECASE)


def _mask_nested_params(text: str) -> str:
    """``text`` with the value of each secret parameter of a URL encoded inside another's (:data:`_NESTED_PARAM_RE`)
    masked, unless it is no secret for its name (:func:`_is_named_no_value`: ``pass%3D2``). The value of a parameter
    that is no secret is looked into: it may be a URL encoded once more (``next%3Dhttps%253A…%253Ftoken%253D…``)."""
    pieces: list[str] = []
    pos = 0
    for equals in _NESTED_EQUALS_RE.finditer(text):
        if equals.start() < pos:  # inside a value masked already
            continue
        start = max(pos, equals.start() - _NESTED_NAME_REACH)
        start = max(start, text.rfind("=", start, equals.start()))  # no name holds an =: none starts before it
        found = _NESTED_PARAM_RE.search(text, start, equals.end())
        if found is None or not _is_secret_param(name := _decoded_name(found.group("name"))):
            continue
        end_found = _nested_value_end(len(found.group("depth") or "") // 2).search(text, found.end())
        end = end_found.start() if end_found else len(text)
        if end > found.end() and not _is_named_no_value(name, _decoded_name(text[found.end():end]).partition(";")[0]):
            pieces.append(text[pos:found.end()] + MASK)
            pos = end
    return "".join(pieces) + text[pos:]


#: How many times a parameter's name is percent-decoded at most (:func:`_decoded_name`).
_NAME_DECODINGS = 3


def _decoded_name(name: str) -> str:
    """A query parameter's name as ``parse_qsl`` reads it (``+`` a space, ``%XX`` decoded), without blanks around;
    decoded again while that changes it (a few times at most), so that a name encoded twice, as a URL passed through
    another encoder holds it (``%2570assword``: ``%25`` and ``70assword``), reads as ``password``. Was: read as
    ``%70assword``, no secret's name: its value shown by :func:`redact_url` and in free text."""
    decoded = unquote(name.replace("+", " "))
    for _ in range(_NAME_DECODINGS - 1):
        if "%" not in decoded or (again := unquote(decoded)) == decoded:
            break
        decoded = again
    return decoded.strip()


#: A quoted string value: its quote (a backslash before it where the whole is a JSON string inside another), then
#: its text to the twin of that quote, to the end of the line when there is none (a message cut short).
_QUOTED_VALUE = r"b?(?P<vq>\\?['\"])(?P<quoted>(?:(?!(?P=vq))(?:\\.|[^\\\n]))*)"
#: ``'name': 'value'``, ``"name": "value"``, ``'name'='value'``, ``('name', 'value')``: a quoted key, a quoted value.
_QUOTED_NAME_RE = re.compile(
    r"(?P<prefix>(?P<pair>\(\s*)?(?P<kq>\\?['\"])(?P<name>" + _CREDENTIAL_NAME + r")(?P=kq)"
    r"(?(pair)\s*,\s*|\s*[:=]\s*))" + _QUOTED_VALUE, re.IGNORECASE)
#: ``name=value``, ``name = 'value'`` (spaces around ``=`` only before a quoted value: ``token = uuid4().hex`` in a
#: traceback's source line is code), ``name: value`` (also ``name : value``, as some YAML and aligned dumps write it;
#: was: shown). The name stands alone (no letter, digit or ``_`` before it);
#: after ``?``, ``&`` or ``;`` it is a query parameter, which :data:`_PARAM_RE` masks as it always has. An unquoted
#: value is the run of characters up to whitespace or ``&``, cut where :func:`_bare_value_end` says; a placeholder
#: (``<your key>``) is taken whole where it is all there is.
_BARE_NAME_RE = re.compile(
    r"(?P<prefix>(?<![\w?&;])(?P<name>" + _CREDENTIAL_NAME + r")(?:=|\s*=\s*(?=b?['\"])"
    r"|(?P<colon>" + "".join(rf"(?<!(?<![\w.-]){name})" for name in sorted(_PROSE_NAMES)) + r"[ \t]*:)[ \t]+))"
    r"(?:" + _QUOTED_VALUE + r"|(?P<bare>(?:" + _PLACEHOLDERS + r")(?=[,;.)\]}'\"]*(?:[\s&]|\Z))"
    r"|(?![\[{])[^\s&]+))", re.IGNORECASE)
#: Where an unquoted value ends within the run of characters after its name (:func:`_bare_value_end`): at a quote
#: that closes something (``'password=pw', …``), else before the punctuation that ends the run.
_CLOSING_QUOTE_RE = re.compile(r"['\"](?=[,;:)\]}]|\Z)")
_TRAILING_PUNCTUATION = ",;.)]}"
#: A credential's name, then blanks, then its value: how a command line writes it, echoed in a log line or an error
#: (``Command '['mysql', '--password', 'pw']' returned …``, ``mysqldump --password pw``, ``client_secret pw``):
#: the name as an argv list's item, then the next, quoted, item (``'--password', 'pw'``); as an option
#: (``--password pw``, ``-password pw``; not ``--no-password``, ``--ask-password``: :data:`_OPTION_DASHES`); or bare
#: where it is a compound name (``client_secret``, ``MYSQL_PWD``, ``accessToken``: :func:`_is_compound_name`), which
#: prose does not write; a plain word (``password``, ``token``) before a blank is prose ("the password is required").
#: What follows is no value where it starts with ``=`` or ``:`` (the other forms) or is none
#: (:func:`_is_spaced_value`). Was: shown in every form.
_OPTION_DASHES = r"--?(?!no[_-]|ask[_-])"
_SPACED_NAME_RE = re.compile(
    r"(?P<prefix>(?P<kq>['\"])" + _OPTION_DASHES + r"(?P<listed>" + _CREDENTIAL_NAME + r")(?P=kq),[ \t]*(?=b?['\"])"
    r"|(?<![\w-])" + _OPTION_DASHES + r"(?P<option>" + _CREDENTIAL_NAME + r")[ \t]+"
    r"|(?<![\w.-])(?P<name>" + _CREDENTIAL_NAME + r")[ \t]+)(?![-=:\s])"
    r"(?:" + _QUOTED_VALUE + r"|(?P<bare>[^\s'\",;)\]}]+))", re.IGNORECASE)
#: An argv list's item that is a credential option's name (``--password``: :func:`_masked_option_values`).
_OPTION_ITEM_RE = re.compile(_OPTION_DASHES + r"(?P<name>" + _CREDENTIAL_NAME + ")", re.IGNORECASE)
#: Words that follow an option's name in prose about it (``use --password to …``, ``--token or --token-file``), not
#: its value.
_OPTION_PROSE = frozenset({"a", "an", "and", "are", "as", "at", "be", "by", "can", "cannot", "flag", "for", "from",
                           "has", "have", "if", "in", "instead", "is", "may", "must", "not", "of", "on", "only",
                           "option", "or", "should", "the", "then", "to", "was", "were", "when", "will", "with"})
#: A word of prose (letters only, in lower case, or with a capital first): not a bare compound name's value.
_PROSE_WORD_RE = re.compile(r"[A-Za-z][a-z]*")
#: A dict key that is a credential's name (``{"client_secret": …}`` passed with ``extra=``).
_CREDENTIAL_KEY_RE = re.compile(_CREDENTIAL_NAME, re.IGNORECASE)


#: An entry of a ``.netrc`` file (curl's, git's, ftp's ``~/.netrc``), on one line or several: ``machine <host>`` (or
#: ``default``), then keyword and value pairs separated by blanks (``login u password hunter2``), a ``login`` among
#: them, the entry starting a line (after blanks) or a quoted string (``echo 'machine h login u password p'``). The
#: value after ``password`` (or ``passwd``) there is a password, a plain word before a blank as it is: prose writes
#: such a word too ("the password is required", "password hunter"), so only a whole entry counts. A value (a host, a
#: login) that ends with ``, ; :`` ends a clause of prose, not a token of a ``.netrc``: "machine web1 login failed,
#: password expired" stays. Keywords in lower case, as ``.netrc`` writes them. Was: shown.
_NETRC_TOKEN = r"(?:\"[^\"\n]*+\"|(?>\S+)(?<![,;:]))"
_NETRC_ENTRY_RE = re.compile(r"(?:m(?<![^\s'\"]m)achine\s+" + _NETRC_TOKEN + r"|d(?<![^\s'\"]d)efault)"
                             r"(?P<pairs>(?:\s+(?:login|account|port|password|passwd)\s+" + _NETRC_TOKEN + r")++)")
_NETRC_PAIR_RE = re.compile(r"(?P<prefix>\s+(?P<key>login|account|port|password|passwd)\s+)(?P<value>"
                            + _NETRC_TOKEN + ")")


def _mask_netrc_passwords(text: str) -> str:
    """``text`` with the password of each ``.netrc`` entry (:data:`_NETRC_ENTRY_RE`) masked, unless it stands for one
    (``$PASSWORD``, ``<password>``: :data:`_NOT_A_VALUE_RE`); an entry without ``login`` as it is."""

    def entry(found: re.Match[str]) -> str:
        pairs = found.group("pairs")
        before = text[text.rfind("\n", 0, found.start()) + 1:found.start()].rstrip(" \t")  # on its line
        if before and before[-1] not in "'\"" \
                or not any(p.group("key") == "login" for p in _NETRC_PAIR_RE.finditer(pairs)):
            return found.group()
        closing = before[-1:]  # a quoted entry's closing quote is no part of a value

        def pair(item: re.Match[str]) -> str:
            value = item.group("value")
            if item.group("key") not in ("password", "passwd") or _NOT_A_VALUE_RE.fullmatch(value.strip('"')):
                return item.group()
            if value.startswith('"') and value.endswith('"') and len(value) > 1:
                return item.group("prefix") + '"' + MASK + '"'
            return item.group("prefix") + MASK + (closing if closing and value.endswith(closing) else "")

        return found.string[found.start():found.start("pairs")] + _NETRC_PAIR_RE.sub(pair, pairs)

    return _NETRC_ENTRY_RE.sub(entry, text) if "machine" in text or "default" in text else text


def _mask_credential_values(text: str) -> str:
    """Mask the value written after a credential's name (:data:`CREDENTIAL_NAMES`), unless it is none
    (:data:`_NOT_A_VALUE_RE`: ``FEDISCOPE_…=$(…)``, ``<key>``, ``…``)."""

    def quoted(found: re.Match[str]) -> str:
        value = found.group("quoted")
        if not value or _NOT_A_VALUE_RE.fullmatch(value) or _is_named_no_value(found.group("name"), value):
            return found.group()
        return found.string[found.start():found.start("quoted")] + MASK  # the quotes (and a b of bytes) stay

    def bare(found: re.Match[str]) -> str:
        if found.group("quoted") is not None:
            return quoted(found)
        run = found.group("bare")
        value = run[:_bare_value_end(run)]
        if not value or _NOT_A_VALUE_RE.fullmatch(value) or (found.group("colon") and value in _COLON_NOT_A_VALUE) \
                or _is_named_no_value(found.group("name"), value.partition(";")[0],
                                      _follows_semicolon(found.string, found.start())):
            return found.group()  # no value (``password=, then``), or one that stands for it
        if run == value and _BEARER_RE.match(found.string, found.start("bare")):
            return found.group()  # ``X-Token=Bearer <token>``: the token is masked after its scheme (was: shown)
        return found.group("prefix") + MASK + run[len(value):]

    def spaced(found: re.Match[str]) -> str:
        value = found.group("quoted") if found.group("quoted") is not None else found.group("bare")
        if not _is_spaced_value(found, value):
            return found.group()
        return found.string[found.start():found.start("quoted")] + MASK if found.group("quoted") is not None \
            else found.group("prefix") + MASK

    text = _SPACED_NAME_RE.sub(spaced, _BARE_NAME_RE.sub(bare, _QUOTED_NAME_RE.sub(quoted, text)))
    return _mask_netrc_passwords(text) if "login" in text and "passw" in text else text


def _is_spaced_value(found: re.Match[str], value: str) -> bool:
    """Whether ``value``, after a credential's name and blanks (:data:`_SPACED_NAME_RE`), is a value: one on a
    command line (:func:`_is_option_value`), and not a word of prose after an option (``use --password to …``:
    :data:`_OPTION_PROSE`). After a bare name, only text that no prose writes is: not a word of letters, and at
    least :data:`MIN_SECRET_LENGTH` long ("client_secret expired", "api_key v2" and a traceback's source line,
    ``if holder.token != me.token or …``, stay)."""
    name = found.group("listed") or found.group("option") or found.group("name")
    if not _is_option_value(name, value):
        return False
    if found.group("option") is not None:
        return value.lower() not in _OPTION_PROSE
    if found.group("name") is not None:
        return _is_compound_name(name) and len(value) >= MIN_SECRET_LENGTH and not _PROSE_WORD_RE.fullmatch(value)
    return True


def _is_option_value(name: str, value: str) -> bool:
    """Whether ``value``, after the credential's name ``name`` on a command line, is a value: not empty nor what
    stands for one (``$TOKEN``, ``<password>``, ``***``, :func:`_is_named_no_value`) nor the next option
    (``--password --verbose``, which prompts), nor the name or a part of it (an option's metavar, ``--api-key KEY``;
    a destination's name, ``click.option("--token", "token")``)."""
    if not value or value.startswith("-") or _NOT_A_VALUE_RE.fullmatch(value) or _is_named_no_value(name, value):
        return False
    return not (re.fullmatch(r"[A-Za-z][A-Za-z_-]*", value)
                and value.lower().replace("_", "-") in name.lower().replace("_", "-"))


def _masked_option_values(items: list[Any] | tuple[Any, ...], masked: list[Any]) -> list[Any]:
    """``masked`` (the items of an argv list, each masked alone) with the item after a credential option's name
    masked (``['mysql', '--password', 'pw']``), as :func:`redact_text` masks the list's repr (:data:`_SPACED_NAME_RE`).
    Was: the value shown in a field passed with ``extra=`` and in a logged value escaped item by item."""
    for i in range(1, len(items)):
        option, value = items[i - 1], items[i]
        if isinstance(option, str) and isinstance(value, str) and (found := _OPTION_ITEM_RE.fullmatch(option)) \
                and _is_option_value(found.group("name"), value):
            masked[i] = MASK
    return masked


def _is_compound_name(name: str) -> bool:
    """Whether a credential's name is made of words (``client_secret``, ``api-key``, ``spring.datasource.password``,
    ``accessToken``), as code and configurations write names and prose does not."""
    return re.search(r"[._-]|[a-z][A-Z]", name) is not None


def _bare_value_end(run: str) -> int:
    """The end of an unquoted value in ``run``, the characters after its name up to whitespace or ``&``: at a
    closing quote (``'token=tk'``; a quote inside the value is part of it: ``pa'ss``), and without the punctuation
    that ends a sentence or a bracket (``password=pw.``, ``(token=tk)``). Found without backtracking, so a long run of
    punctuation costs no more than a long value."""
    closing = _CLOSING_QUOTE_RE.search(run)
    return len(run[:closing.start() if closing else len(run)].rstrip(_TRAILING_PUNCTUATION))


def is_credential_name(name: str) -> bool:
    """Whether ``name`` (a dict key, a field) is a credential's name: :data:`CREDENTIAL_NAMES`, or one ending with
    one of :data:`CREDENTIAL_SUFFIXES` (``db_password``), in any case."""
    return _CREDENTIAL_KEY_RE.fullmatch(name) is not None


def masked_credential(value: str, name: str = "") -> str:
    """The value of an item whose key is a credential's name (``name``), masked as :func:`_mask_credential_values`
    masks it in text: whole, unless it is no value (a placeholder, ``$(…)``, an empty string, ``PWD``'s directory)."""
    return value if not value or _NOT_A_VALUE_RE.fullmatch(value) or _is_named_no_value(name, value) else MASK


_SCHEME_PREFIX_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:/*")


def _redact_loose_userinfo(url: str) -> str:
    """A URL typed without ``//`` (``mysql+pymysql:/u:pw@h/db``, ``mysql+pymysql//u:pw@h/db``): everything between
    the first ``:`` after the scheme and the last ``@`` is taken for a password and masked."""
    scheme = _SCHEME_PREFIX_RE.match(url)
    start = scheme.end() if scheme else 0
    at = url.rindex("@")
    colon = url.find(":", start, at)
    if colon < 0:
        return url
    return url[:colon + 1] + MASK + url[at:]


def redact_url(url: str) -> str:
    """``mysql+pymysql://user:pw@db/x?access_token=t`` → ``mysql+pymysql://user:***@db/x?access_token=***``.

    Only the secret parts change; anything else (``sqlite:////abs/path`` with its empty host) is kept verbatim. A URL
    typed without ``//`` but with an ``@`` (``mysql+pymysql:/user:pw@db/x``) has its userinfo password masked too:
    error messages echo exactly such mistyped URLs.
    """
    if "://" not in url and "@" in url:  # a malformed URL (`mysql+pymysql:/u:pw@h`): its userinfo is still secret
        return _redact_loose_userinfo(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    unparsed = _USERINFO_RE.match(url)
    if unparsed:
        # the password runs to the last @ of the authority: urlsplit stops inside one holding an unencoded / ? #,
        # and SQLAlchemy's parse at its first @ (a password with an unencoded @ would be half shown)
        end = _userinfo_end(url, unparsed.end("prefix"))
        if url[unparsed.end("prefix"):end] != MASK:
            return redact_url(unparsed.group("prefix") + MASK + _after_userinfo(url, end))
    netloc, query, fragment = parts.netloc, parts.query, parts.fragment
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{host}"
    if query and fragment and _ends_with_secret_param(query):
        # SQLAlchemy has no fragment: ``?password=ab#cd&x=1`` is the password ``ab#cd`` (was: ``#cd&x=1`` shown)
        query, fragment = f"{query}#{fragment}", ""
    if query:
        query = _mask_query(query)
        if "%" in query:
            query = _mask_nested_params(query)
    if fragment:
        fragment = _FRAGMENT_PARAM_RE.sub(_masked_param, fragment)
        if "%" in fragment:
            fragment = _mask_nested_params(_mask_encoded_names(fragment, _ENCODED_FRAGMENT_PARAM_RE))
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url
    if netloc != parts.netloc:  # a host is there, so urlunsplit writes the ``//`` before it
        return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))
    # the text before the query as written: urlunsplit drops the ``//`` of an empty host, which turned
    # ``sqlite:////tmp/x.db`` into ``sqlite://tmp/x.db`` (a host ``tmp``) and ``sqlite:///x.db`` into ``sqlite:/x.db``
    before_query = re.split(r"[?#]", url, maxsplit=1)[0]
    return before_query + (f"?{query}" if query else "") + (f"#{fragment}" if fragment else "")


def _mask_query(query: str) -> str:
    """``query`` with each secret parameter's value (:func:`_is_secret_param`, its name read as ``parse_qsl`` reads
    it) masked in place, and everything else as written. Was: the whole query decoded and encoded again
    (``parse_qsl``, ``urlencode``) as soon as one parameter was secret, which changed what the others said: ``a;b=1``
    became ``a%3Bb%3D1``, ``x=%2B%20`` became ``x=%2B+``, ``&&`` one ``&``, a bare ``flag`` ``flag=``."""
    return "&".join(_mask_query_piece(piece) for piece in query.split("&"))


def _mask_query_piece(piece: str) -> str:
    """One ``&``-separated piece of a query: its value masked whole where its name is secret; else from a secret
    parameter after a ``;`` (``a=1;password=…``, which :func:`redact_text` masks too) to the piece's end (a ``;`` in
    the password included: more is masked rather than less). Was: ``?a=1;password=x`` shown by :func:`redact_url`."""
    name, _, value = piece.partition("=")
    decoded = _decoded_name(name)
    if _is_secret_param(decoded) and not _is_named_no_value(decoded, value.partition(";")[0]):
        return f"{name}={MASK}"
    start = 0
    while (semicolon := piece.find(";", start)) >= 0:
        name, equals, value = piece[semicolon + 1:].partition("=")
        if equals and ";" not in name and _is_secret_param(decoded := _decoded_name(name)) \
                and not _is_named_no_value(decoded, value.partition(";")[0], after_semicolon=True):
            return f"{piece[:semicolon + 1]}{name}={MASK}"
        start = semicolon + 1
    return piece


def _ends_with_secret_param(query: str) -> bool:
    """Whether the last parameter of ``query`` is secret (also after a ``;``): a ``#`` after it is in its value."""
    last = query.rpartition("&")[2]
    return _mask_query_piece(last) != last


#: A secret parameter in a URL's fragment (what follows its first ``#``), at its start or after ``?``, ``&`` or
#: ``;``: ``sqlite:////x#frag?password=…``, an OAuth answer's ``#access_token=…&token_type=bearer``. Its value runs
#: to the next ``&`` (a ``#`` in it included: more is masked rather than less), as :func:`redact_text` masks it.
_FRAGMENT_PARAM_RE = re.compile(r"(?P<prefix>(?:^|[?&;])(?:" + _names(SECRET_PARAMS) + "|" + _TOKEN_PARAMS + "|"
                                + _CREDENTIAL_NAME + r")=)(?P<value>[^&]+)", re.IGNORECASE)


def _after_userinfo(url: str, end: int) -> str:
    """What follows a URL's userinfo ending at the ``@`` at ``end``, with the rest of a secret query parameter's
    value masked where that ``@`` is inside it: ``host:3306/db?password=a@b`` reads both as a user ``host``, a
    password ``3306/db?password=a`` and a host ``b`` (as SQLAlchemy reads it) and as a host, a database and a
    password ``a@b`` (as ``urlsplit`` does); neither reading may show a piece of a password."""
    for found in _PARAM_RE.finditer(url, 0, len(url)):
        if found.start("value") < end < found.end("value"):
            return "@" + MASK + url[found.end("value"):]
    return url[end:]


def _userinfo_end(url: str, start: int) -> int:
    """The index of the ``@`` that ends the userinfo starting at ``start``: the last ``@`` before the query, the
    query being what follows the first ``?`` after a ``/`` after the first ``@`` (``user:pw@host/db?…``), so that
    an ``@`` in a query value (``ssl_ca=/home/a@b/ca.pem``) is not taken for it."""
    first = url.index("@", start)
    slash = url.find("/", first)
    query = url.find("?", slash) if slash >= 0 else -1
    return url.rindex("@", start, query if query >= 0 else len(url))


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secret values, then anything shaped like a credential (URL passwords, values after a
    credential's name, headers, bearer tokens, secret query parameters)."""
    text = _mask_url_passwords(mask_secrets(text, secrets))
    # headers before names: ``X-API-Key`` is a credential's name too, which would mask a scheme-like word only;
    # each header's pattern is tried only where its name may be (a test of the text in lower case is much faster)
    lowered = text.lower()
    if "authorization" in lowered or "api-key" in lowered or "auth-token" in lowered:
        text = _AUTH_HEADER_RE.sub(_mask_header_value, text)
    if "cookie" in lowered:
        text = _COOKIE_HEADER_RE.sub(_mask_header_value, text)
    text = _mask_credential_values(text)
    text = _BEARER_RE.sub(_mask_bearer, text)
    text = _PARAM_RE.sub(_masked_param, text)
    return _mask_nested_params(_mask_encoded_names(text)) if "%" in text else text


def _masked_param(found: re.Match[str]) -> str:
    """A secret query parameter (:data:`_PARAM_RE`, :data:`_FRAGMENT_PARAM_RE`) with its value masked, unless that
    is no secret for its name up to a ``;`` (:func:`_is_named_no_value`: ``?pass=2``); then what follows the ``;``
    is looked at as parameters of its own (``?pass=2;password=…``)."""
    name = found.group("prefix").lstrip("?&;")[:-1]
    value = found.group("value")
    head = value.partition(";")[0]
    if not _is_named_no_value(name, head, found.group("prefix").startswith(";")):
        return found.group("prefix") + MASK
    return found.group("prefix") + head + found.re.sub(_masked_param, value[len(head):])


def _mask_bearer(found: re.Match[str]) -> str:
    """``bearer <token>`` with the token masked, unless that ``bearer`` is a value, not a scheme before a credential:
    a token's type (``token_type=bearer expires_in=7200``, ``token_type: bearer`` then a YAML line), or the value of
    another ``=`` followed by a further ``name=value`` pair (a ``key=value`` line). Was: ``expires_in=7200`` masked.
    ``auth=Bearer <token>`` is still masked: the word after the ``bearer`` is no pair."""
    before = _BEARER_AS_VALUE_RE.search(found.string, max(0, found.start() - 40), found.start())
    if before is not None and (before.group("typed") or _PAIR_RE.match(found.group("value"))):
        return found.group()
    return found.group("prefix") + MASK


def _mask_header_value(found: re.Match[str]) -> str:
    """A credential header's value in text (:data:`_AUTH_HEADER_RE`, :data:`_COOKIE_HEADER_RE`), masked but for its
    quotes and a known scheme (:data:`AUTH_SCHEMES`; any other word before the credential is masked with it); a
    cookie header's pairs each but for their name (:func:`_masked_cookies`); a list's or a tuple's
    (``['sid=…', 'lang=en']``), each quoted item whole, or all between its brackets where none is quoted."""
    items = found.group("items")
    if items is None:
        groups = found.groupdict()
        if "scheme" not in groups:  # a cookie header
            return found.group("prefix") + found.group("opening") + _masked_cookies(found.group("value"))
        scheme = groups["scheme"]
        if groups["folded"] is not None:  # a known scheme, then the token on the next line
            return found.group("prefix") + found.group("opening") + found.group("folded") + MASK
        shown = "" if scheme is None else (
            found.string[found.start("scheme"):found.start("params") if found.group("params") is not None
                         else found.start("value")] if _KNOWN_SCHEME_RE.fullmatch(scheme) else MASK + " ")
        return found.group("prefix") + found.group("opening") + shown + MASK
    if _QUOTED_ITEM_RE.search(items) is None:
        closing = items[-1] if len(items) > 1 and items[-1] in ")]" else ""
        if not items[1:len(items) - len(closing)].strip():
            return found.group()  # no value: [] or ()
        return found.group("prefix") + items[0] + MASK + closing
    return found.group("prefix") + _QUOTED_ITEM_RE.sub(
        lambda item: item.group("open") + (_masked_header_text(item.group("text")) if item.group("text") else "")
        + item.group("close"), items)


def _masked_cookies(value: str) -> str:
    """A cookie header's text with each cookie's value masked but its name shown (``a=***; session=***``); a
    ``Set-Cookie`` attribute as it is (``Path=/``, ``HttpOnly``), and an item that is no ``name=value`` masked."""

    def item(found: re.Match[str]) -> str:
        name, equals, _ = found.group().partition("=")
        if name.strip().lower() in _COOKIE_ATTRIBUTES:
            return found.group()
        return name + equals + MASK if equals else MASK

    return _COOKIE_ITEM_RE.sub(item, value)


def _masked_header_text(value: str) -> str:
    """A credential header's value masked whole, but for its scheme (``Bearer ***``)."""
    scheme = _AUTH_SCHEME_RE.match(value)
    return (scheme.group() if scheme else "") + MASK


def _mask_url_passwords(text: str) -> str:
    """Mask the password of every ``scheme://user:password@host`` in ``text``, whole: to the last ``@`` before the
    host, as :func:`redact_url` does (a password may hold ``/ ? # : @`` unencoded, and SQLAlchemy or an error
    message repeats it as typed). Fediscope's own placeholder (:data:`PASSWORD_PLACEHOLDER`) is left as it is."""
    pieces: list[str] = []
    pos = 0
    while (found := _URL_USERINFO_START_RE.search(text, pos)) is not None:
        start = found.end()
        end = _text_password_end(text, start, found.group("quote"))
        if end is None or text[start:end] == PASSWORD_PLACEHOLDER:
            pieces.append(text[pos:start])
            pos = start
            continue
        pieces.append(text[pos:start] + MASK)
        pos = end
    return "".join(pieces) + text[pos:]


def _text_password_end(text: str, start: int, quote: str) -> int | None:
    """The index of the ``@`` ending a URL password that starts at ``start`` in free text, or None when what
    follows ``scheme://host:`` is no password (no ``@`` in the URL, or a port and a path: ``host:8080/@alice``).

    The URL ends at the quote it was opened with, where that closes on the same line (a quoted URL is one value,
    blanks and all: ``'https://alice:pw /@host'`` in an error that quotes a setting or a parameter), else at
    whitespace; and where another URL starts. Within it the password ends where :func:`_userinfo_end` says. A
    password that is digits then ``/`` (``u:12/ab@host``) cannot be told from a port and a path: it is masked only
    where it is a known secret (:func:`mask_secrets`)."""
    if _PORT_AND_PATH_RE.match(text, start):
        return None
    line_end = text.find("\n", start)
    closing = text.find(quote, start, len(text) if line_end < 0 else line_end) if quote else -1
    if closing >= 0:
        stop = closing
    else:
        space = _WHITESPACE_RE.search(text, start)
        stop = space.start() if space else len(text)
    following = _URL_START_RE.search(text, start, stop)
    stop = following.start() if following else stop
    if text.find("@", start, stop) < 0:
        return None
    return _userinfo_end(text[:stop], start)


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """Replace each known secret in ``text`` with ``***``, longest first, in any case.

    Any case: ``TK-8SJ2…`` holds the token ``tk-8sJ2…`` but for the case of its letters (and is the whole of a hex
    key, such as a pseudonym key made with ``token_hex``), and a message may show a secret in capitals. The rule,
    so that a short secret does not garble ordinary words (an API key ``short`` must not turn "shorter than 16
    characters" into "***er than 16 characters"):

    * a secret of :data:`SUBSTRING_SECRET_LENGTH` characters or more is masked wherever it occurs — such a
      string does not occur inside ordinary words by chance, and it may be glued to other text (a path, a
      concatenated header value);
    * a shorter secret is masked only where it stands alone: not directly preceded or followed by a letter,
      digit or underscore. Every stand-alone occurrence is masked (``key=short``, ``'short'``, ``short.``,
      ``SHORT``); only a longer word that merely contains it (``shorter``) is left as it is;
    * a secret shorter than :data:`MIN_SECRET_LENGTH` is not masked at all (it would match everywhere);
      ``fediscope config check`` flags such values as weak.

    A secret is found also percent-encoded, as a URL or a form body holds it (``a+b/c=`` as ``a%2Bb%2Fc%3D``; a
    space as ``+`` too), wholly or partly. Where secrets overlap (one inside another, or one's end the start of
    another), their whole extent is masked as one: every secret is found in the text before any is masked. Masking
    then goes on in the masked text until no secret is left (a short one that stands alone only once a longer one
    next to it is masked: ``<token>short`` → ``***``).

    ``secrets`` is best a :class:`KnownSecrets` (a :class:`RedactingFilter`'s are): its patterns are compiled once.
    Any other collection of strings is made one, cached by its contents.
    """
    known = secrets if isinstance(secrets, KnownSecrets) else _known_secrets(frozenset(secrets))
    if known.anywhere is None or not known.may_hold(text):  # the common case
        return text
    while spans := sorted(found.span() for pattern in known.each for found in pattern.finditer(text)):
        text = _masked_spans(text, spans)  # each round shortens the text: a secret is longer than MASK
    return text


def _masked_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each run of overlapping or adjacent ``spans`` (sorted) replaced by one :data:`MASK`: secrets
    that overlap (one a part of another, or the end of one the start of the next) leave no fragment of either."""
    pieces: list[str] = []
    pos = run_start = run_end = 0
    run = False
    for start, end in spans:
        if run and start <= run_end:
            run_end = max(run_end, end)
            continue
        if run:
            pieces += [text[pos:run_start], MASK]
            pos = run_end
        run, run_start, run_end = True, start, end
    pieces += [text[pos:run_start], MASK, text[run_end:]]
    return "".join(pieces)


#: The characters a URL never percent-encodes.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _char_pattern(char: str) -> str:
    """One character of a known secret: as it is, or percent-encoded (its UTF-8 bytes; a space also ``+``)."""
    if char in _UNRESERVED:
        return re.escape(char)
    encoded = "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    return "(?:" + "|".join([re.escape(char), encoded] + (["\\+"] if char == " " else [])) + ")"


def _secret_pattern(secret: str) -> str:
    """The regular expression of one known secret (:func:`mask_secrets`' rule), each character also as a URL
    encodes it: a short one stands alone. Its look-behind comes after its first character where that is a letter or
    digit, so that the alternatives of :attr:`KnownSecrets.anywhere` start with a character of their secret (a search
    then skips the positions where none starts: twice as fast)."""
    chars = [_char_pattern(char) for char in secret]
    if len(secret) >= SUBSTRING_SECRET_LENGTH:
        return "".join(chars)
    if secret[0] in _UNRESERVED:
        return chars[0] + rf"(?<!\w{chars[0]})" + "".join(chars[1:]) + r"(?!\w)"
    return r"(?<!\w)" + "".join(chars) + r"(?!\w)"


class KnownSecrets(frozenset[str]):
    """A set of known secrets (the empty string is none) with the patterns :func:`mask_secrets` finds them by,
    compiled once for the set rather than for every text: ``anywhere``, all of them in one case-insensitive
    alternation (longest first, a short one with its guard), which tells in one search whether a text holds any;
    then ``each``, one pattern per secret, longest first, which mask a text that does. One by one, because the
    masking of a longer secret may leave a shorter one standing alone (``<token>short`` → ``***short``), which is
    then masked too. A set never changes: :meth:`RedactingFilter.add_secrets` makes a new one."""

    anywhere: re.Pattern[str] | None
    each: tuple[re.Pattern[str], ...]
    #: The secrets in lower case, when all are ASCII (else None): :meth:`may_hold`'s test of an ASCII text.
    lowered: tuple[str, ...] | None
    #: Whether a secret has a character a URL percent-encodes (then a text with ``%`` or ``+`` is searched).
    encodable: bool

    def __new__(cls, secrets: Iterable[str] = ()) -> KnownSecrets:
        self = super().__new__(cls, (s for s in secrets if s))
        usable = sorted((s for s in self if len(s) >= MIN_SECRET_LENGTH), key=lambda s: (-len(s), s))
        self.each = tuple(re.compile(_secret_pattern(s), re.IGNORECASE) for s in usable)
        self.anywhere = re.compile("|".join(map(_secret_pattern, usable)), re.IGNORECASE) if usable else None
        self.lowered = tuple(s.lower() for s in usable) if all(s.isascii() for s in usable) else None
        self.encodable = any(not _UNRESERVED.issuperset(s) for s in usable)
        return self

    def may_hold(self, text: str) -> bool:
        """Whether ``text`` may hold one of the secrets (False: it holds none, in any case). An ASCII text, where the
        secrets are ASCII too, is looked at in lower case with ``in`` (ten times as fast as a search); in ASCII, the
        regular expressions' ignoring of case is just that (only other characters have further equivalents: ``ſ``
        for ``s``, the Kelvin sign for ``k``)."""
        if self.lowered is not None and text.isascii():
            lowered = text.lower()
            if any(secret in lowered for secret in self.lowered):
                return True
            if not (self.encodable and ("%" in text or "+" in text)):  # else it may hold one percent-encoded
                return False
        return self.anywhere is not None and self.anywhere.search(text) is not None


@functools.lru_cache(maxsize=64)
def _known_secrets(secrets: frozenset[str]) -> KnownSecrets:
    return KnownSecrets(secrets)


def secret_values(settings: Any) -> list[str]:
    """Every secret a :class:`~fediscope.config.Settings` holds: API keys (with and without their ``:ro``
    suffix), the pseudonym key, per-instance tokens and the secrets embedded in the store URL, the lake URL and the
    Spark lake URI (``spark_lake_uri``: a password, a secret query parameter's value). Known, they are masked
    wherever a text holds them, also where it is not shaped like a URL (a Hadoop error quoting a token alone)."""
    found: list[str] = []
    for key in getattr(settings, "api_key", ()) or ():
        found += [key, key.rsplit(":", 1)[0] if key.endswith(":ro") else key]
    if getattr(settings, "pseudonym_key", None):
        found.append(settings.pseudonym_key)
    found += [t for t in (getattr(settings, "tokens", {}) or {}).values() if t]
    for url in (getattr(settings, "store", ""), getattr(settings, "lake", ""),
                getattr(settings, "spark_lake_uri", None) or ""):
        found += url_secrets(str(url))
    return [s for s in dict.fromkeys(found) if s]


def url_secrets(url: str) -> list[str]:
    """The secrets a store or lake URL holds: its password, whole (also with unencoded ``/ ? # @`` in it, and in one
    typed without ``//``), and the values of secret query parameters (also after a ``#``)."""
    found: list[str] = []
    unparsed = _USERINFO_RE.match(url)
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password is None and unparsed is None and "://" not in url and "@" in url:
        # a URL typed without ``//`` (``mysql+pymysql:/u:pw@h/db``), which redact_url masks and error messages echo
        masked = _redact_loose_userinfo(url)
        if masked != url:
            password = url[masked.index(MASK):url.rindex("@")]
    if unparsed:  # to the last @ of the authority, as redact_url masks it: ``u:pa#@ss@h`` is the password ``pa#@ss``
        typed = url[unparsed.end("prefix"):_userinfo_end(url, unparsed.end("prefix"))]
        if password is None or len(typed) > len(password):
            password = typed  # urlsplit cut the password at an unencoded / ? #, the pattern at its first @
    if password:  # as typed, and as SQLAlchemy or a driver decodes it (``%40`` an ``@``)
        found += dict.fromkeys([password, unquote(password)])
    return found + _query_secrets(url)


def _query_secrets(url: str) -> list[str]:
    """Values of secret query parameters (``mysql+pymysql://u@db/x?password=…``), as SQLAlchemy reads them (a
    ``#`` is part of a value: ``?password=ab#cd``) and as ``urlsplit`` does (the query ends at a ``#``)."""
    query = url.partition("?")[2]
    fragment = url.partition("#")[2]  # ``sqlite:////x#frag?password=…``: masked there too (redact_url)
    found = [v for part in dict.fromkeys([query, query.partition("#")[0]])
             for k, v in parse_qsl(part, keep_blank_values=True)
             if _is_secret_param(k) and v and not _is_named_no_value(k, v)]
    found += [m.group("value") for m in _FRAGMENT_PARAM_RE.finditer(fragment)]
    return list(dict.fromkeys(found))


#: Query parameters named like a credential-carrying header (``?Authorization=Bearer%20…``, ``?cookie=…``), or
#: carrying a signature or a token (:data:`_TOKEN_PARAMS`): their values are credentials too (the headers' as
#: :func:`redact_text` masks them in free text, the others' as it masks them in a URL's query).
_SECRET_PARAM_RE = re.compile(r"(?:proxy-)?authorization|x-api-key|api-key|x-auth-token|(?:set-)?cookie|"
                              + _TOKEN_PARAMS, re.IGNORECASE)


def _is_secret_param(name: str) -> bool:
    """Whether a query parameter's value is a credential: :data:`SECRET_PARAMS`, a credential's name, or a
    credential header's or a signature's name (:data:`_SECRET_PARAM_RE`)."""
    return (name.lower() in SECRET_PARAMS or is_credential_name(name)
            or _SECRET_PARAM_RE.fullmatch(name) is not None)


#: The attributes every :class:`logging.LogRecord` has (this Python's), and those formatters add: any other is a
#: field the code passed with ``extra=`` (:func:`extra_fields`).
STANDARD_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))) | {
    "message", "asctime"}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields the code passed with ``extra=`` (``log.info("...", extra={"status": 200})``)."""
    return {k: v for k, v in vars(record).items() if k not in STANDARD_RECORD_ATTRIBUTES and not k.startswith("_")}


def redact_value(value: Any, secrets: Iterable[str] = ()) -> Any:
    """``value`` with its secrets masked: a string by :func:`redact_text`, a dict, list or tuple item by item (a
    tuple comes back a list; the value of an item or a pair under a credential's name whole: :func:`_redact_item`,
    :func:`masked_credential`); numbers, booleans and None as they are. Any other object is kept as it is, unless its
    ``str()`` (what a formatter shows of it) holds a secret: then that text, masked. A value without a secret comes
    back as the same object, so a host's own record attributes (Airflow's) keep their types."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        masked: Any = {redact_value(k, secrets): _redact_item(k, v, secrets) for k, v in value.items()}
        return value if masked == value else masked
    if isinstance(value, (list, tuple)):
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], str) \
                and is_credential_name(value[0]):  # a (name, value) pair: an item of an ordered dict, a query
            masked = [value[0], masked_credential(value[1], value[0])]
        else:
            masked = _masked_option_values(value, [redact_value(v, secrets) for v in value])
        return value if masked == list(value) else masked
    text = str(value)
    shown = redact_text(text, secrets)
    return value if shown == text else shown


def _redact_item(key: Any, value: Any, secrets: Iterable[str]) -> Any:
    """The value of a dict item, masked as :func:`redact_text` masks ``key: value`` in a text line: the value of a
    header that holds a credential (:data:`_HEADER_NAMES`, any case: ``{"X-API-KEY": …}``) is masked whole, whatever
    it looks like, but for its scheme (``Bearer ***``), also bytes and a list of values (:func:`_masked_header_item`);
    so is a string under a credential's name
    (:data:`CREDENTIAL_NAMES`: ``{"client_secret": …}``), unless it is no value (:func:`masked_credential`)."""
    if isinstance(key, str) and _HEADER_KEY_RE.search(key):
        return _masked_header_item(value, secrets)
    if isinstance(key, str) and isinstance(value, str) and is_credential_name(key):
        return masked_credential(value, key)
    return redact_value(value, secrets)


def _masked_header_item(value: Any, secrets: Iterable[str]) -> Any:
    """The value of a dict item under a credential header's name, masked whole whatever its type: a string (but for
    its scheme: :func:`_masked_header_text`; an empty one stays), bytes (as bytes), each item of a list or tuple (a
    header with several values: ``{'Set-Cookie': ['a=…', 'b=…']}``) or value of a dict; anything else as
    :func:`redact_value` masks it. A value that needs no masking comes back as the same object."""
    if isinstance(value, str):
        return _masked_header_text(value) if value else value
    if isinstance(value, (bytes, bytearray)):
        return _masked_header_text(bytes(value).decode("latin-1")).encode("latin-1") if value else value
    if isinstance(value, (list, tuple)):
        masked: Any = [_masked_header_item(item, secrets) for item in value]
        return value if masked == list(value) else masked
    if isinstance(value, dict):
        masked = {redact_value(k, secrets): _masked_header_item(v, secrets) for k, v in value.items()}
        return value if masked == value else masked
    return redact_value(value, secrets)


class RedactingFilter(logging.Filter):
    """A handler filter that rewrites each record's message (and traceback text, and the fields passed with
    ``extra=``, which a JSON formatter shows) with :func:`redact_text`.

    It masks the record itself, in place, so every handler the record reaches after this one gets it masked too.
    Deliberately: a secret is no handler's presentation, and the guarantee is that none reaches any handler
    fediscope sets up or covers (each carries this filter: :func:`install_redacting_filter`); a handler added later,
    which fediscope never saw, gets masked records only where it comes after a covered one. A text line's escapes of
    control characters are a presentation (:class:`~fediscope.console.PrintableValues`) and change no record: the
    filter leaves the message with its values escaped, masked the same way, in a private attribute
    (:data:`~fediscope.console.PRINTABLE_MESSAGE`) for a text handler to show, since once the values are in the
    message they cannot be told from its own lines.

    Install it on handlers, not loggers: a logger's filters do not see records propagated from child loggers.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = KnownSecrets(secrets)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Mask ``secrets`` too, from the next record on: the patterns are compiled anew here, once."""
        added = KnownSecrets(secrets)
        if not added <= self.secrets:
            self.secrets = KnownSecrets(self.secrets | added)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record (nor crash the program)
            message = f"{record.msg!r} {record.args!r}"
        shown = left_printable_message(record)  # left by another handler's filter (masked already)
        if shown is None:
            shown = self._printable_message(record, message)
        record.msg, record.args = redact_text(message, self.secrets), None
        if shown is not None:  # with the message it goes with: a later filter may rewrite record.msg
            setattr(record, PRINTABLE_MESSAGE, (record.msg, redact_text(shown, self.secrets)))
        else:
            record.__dict__.pop(PRINTABLE_MESSAGE, None)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, self.secrets)
        for name, value in extra_fields(record).items():
            if (masked := redact_value(value, self.secrets)) is not value:
                setattr(record, name, masked)
        return True

    def _printable_message(self, record: logging.LogRecord, message: str) -> str | None:
        """The message as a text line shows it (:func:`~fediscope.console.printable_message`), from the values
        masked one by one (an escape must not break up the shape of a credential: ``Authorization:\\tBearer``),
        or None where that is the message's own text with its controls but newlines escaped: always where no value
        is escaped, the common case (the message masked as a whole then shows the same)."""
        if not record.args or not escapes_values(record.args):
            return None
        args = record.args
        if isinstance(args, dict):
            masked_args: Any = {key: redact_value(value, self.secrets) for key, value in args.items()}
        elif isinstance(args, tuple):
            masked_args = tuple(redact_value(value, self.secrets) for value in args)
        else:
            masked_args = args
        shown = printable_message(logging.makeLogRecord({"msg": record.msg, "args": masked_args}))
        return None if shown == printable(message, keep="\n") else shown


def install_redacting_filter(secrets: Iterable[str] = (), logger: str = "fediscope") -> list[logging.Handler]:
    """Put a :class:`RedactingFilter` on every handler that records of ``logger`` (and its children) reach:
    its own handlers and those of its ancestors up to where propagation stops; and a
    :class:`~fediscope.console.PrintableValues`, which escapes the control characters of logged values where
    the handler writes text lines (:func:`_install_printable_values`), in what that handler writes only.

    For hosts that set up logging themselves (Airflow's task runner puts its handler on the root logger),
    where the CLI's :func:`~fediscope.cli.common.configure_logging` never ran. Idempotent: a handler that
    already has a RedactingFilter gets the new ``secrets`` added to it rather than a second filter. Returns
    the handlers covered (none when no handler is configured yet: call it again once there is one).
    """
    secrets = [s for s in secrets if s]
    covered: list[logging.Handler] = []
    current: logging.Logger | None = logging.getLogger(logger)
    while current is not None:
        for handler in current.handlers:
            existing = next((f for f in handler.filters if isinstance(f, RedactingFilter)), None)
            if existing is None:
                handler.addFilter(RedactingFilter(secrets))
            else:
                existing.add_secrets(secrets)
            _install_printable_values(handler)
            covered.append(handler)
        current = current.parent if current.propagate else None
    return covered


def _install_printable_values(handler: logging.Handler) -> None:
    """Put a :class:`~fediscope.console.PrintableValues` on ``handler`` (unless it has one: the CLI's handler
    does). It acts only while the handler writes text lines: an Airflow task's log as ``dag.test()`` prints it, not
    the JSON the task process sends to Airflow's supervisor in a deployment (JSON escapes the control characters
    itself); and only on what that handler writes, never on the record other handlers get."""
    if not any(isinstance(f, PrintableValues) for f in handler.filters):
        handler.addFilter(PrintableValues(handler))
