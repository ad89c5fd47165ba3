"""Request parameters, validated by plain typed code (flask-restful's ``reqparse`` is deprecated).

Every scraping route takes ``instance`` and the Mastodon paging parameters; each bad value is a 400 naming the
parameter (the results routes take ``n``, ``prefix``, ``limit`` and ``after``: :func:`parse_results_query`). The bounds
are Mastodon's own: ``limit`` 1–40 (Mastodon caps pages at 40), ids are digit strings (Mastodon ids are
signed 64-bit integers, PostgreSQL ``bigint``, sent as strings: at most 9223372036854775807) or, for the other
servers of the fediverse behind the Mastodon API, text ids of ASCII letters and digits (GoToSocial's ULIDs,
Pleroma's and Akkoma's FlakeIds, Misskey's ids: :func:`parse_id`), hashtags use
Mastodon's tag charset and accounts its ``user`` / ``user@domain`` form (both from :mod:`fediscope.sources.spec`,
shared with the collector). Unknown or repeated parameters are refused too, so a typo (``max-id``) fails loudly
instead of silently fetching the newest page. The bounds below are also what :mod:`api.openapi` documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from werkzeug.datastructures import MultiDict

from api.errors import bad_parameter
from fediscope.config import instance_domain
from fediscope.errors import ConfigError
from fediscope.sources.spec import ACCT_RE, SourceRef, parse_source, tag_re
from fediscope.wording import quoted

LIMIT_MIN, LIMIT_MAX = 1, 40
#: the largest ``offset`` (the routes paged by offset: /v1/trends/tags): Mastodon takes any, a list of trending tags
#: is some dozens long, and a page beyond its end is empty
OFFSET_MAX = 100_000
#: the largest Mastodon id (a PostgreSQL ``bigint``): a larger one was sent on, and the instance's refusal of it
#: came back as a 502
ID_MAX = 2**63 - 1


def _digits_at_most(bound: int) -> str:
    """A regex (ECMA's too, for the OpenAPI document) of the digit strings whose value is at most ``bound``, leading
    zeros included, written with at most as many digits as ``bound``: shorter ones, then for each leading digit of
    ``bound`` the strings that agree with it up to a smaller digit there."""
    text = str(bound)
    branches = [f"[0-9]{{1,{len(text) - 1}}}"] if len(text) > 1 else []
    for i, digit in enumerate(text):
        if digit != "0":
            rest = len(text) - i - 1
            branches.append(text[:i] + (f"[0-{int(digit) - 1}]" if digit != "1" else "0")
                            + (f"[0-9]{{{rest}}}" if rest else ""))
    branches.append(text)
    return "(" + "|".join(branches) + ")"


#: the longest id taken: a text id of another fediverse server is 10 (Misskey's aid) to 26 (GoToSocial's ULID)
#: characters, a Pleroma/Akkoma FlakeId about 18; 64 leaves room for others (a 32-digit hex digest) and bounds
#: what is sent on to the instance
ID_MAX_LENGTH = 64
#: a Mastodon id (digits, at most :data:`ID_MAX`: a longer digit string is no id of any server behind the
#: Mastodon API, and Mastodon refused it with an error that came back as a 502), or a text id of another server:
#: ASCII letters and digits with at least one letter, at most :data:`ID_MAX_LENGTH` of them (``maxLength`` in the
#: OpenAPI document; :func:`is_id` checks both). No other character: an id is sent on in a query string and handed
#: back in a ``Link`` header, and none of these servers writes one.
ID_PATTERN = "^(" + _digits_at_most(ID_MAX) + "|[0-9]*[A-Za-z][0-9A-Za-z]*)$"
PORT_PATTERN = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
#: What :func:`parse_instance` takes, for the OpenAPI document only: the server reads ``instance`` with
#: :func:`fediscope.config.instance_domain`, as the configuration reads an address (a test holds the two together).
#: Blanks and control characters around it, a scheme in any case (spelled out so the pattern is ECMA too), a host
#: name (RFC 1123 labels; at most 253 characters, which the pattern does not count), a final dot, a port 1-65535
#: (leading zeros, or an empty one), a final ``/``.
_BLANKS = r"[\x00-\x20]*"  # fediscope.config.BLANKS
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
INSTANCE_PATTERN = (r"^" + _BLANKS + r"([Hh][Tt][Tt][Pp][Ss]?://)?" + _LABEL + r"(\." + _LABEL + r")*\.?"
                    r"(:(0*" + PORT_PATTERN + r")?)?/?" + _BLANKS + r"$")
INSTANCE_MAX_LENGTH = 300
TAG_MAX_LENGTH = 100
ACCT_PATTERN = ACCT_RE.pattern
ACCT_MAX_LENGTH = 300
PAGING = ("since_id", "max_id", "min_id", "limit")
COMMON = ("instance", *PAGING)

#: characters of an unknown parameter's name that its error quotes (and names as ``parameter``)
NAME_SHOWN = 100

_ID_RE = re.compile(ID_PATTERN)
#: How many digits a number parameter may be written with (leading zeros included; the OpenAPI document does not
#: bound them, but an unbounded string would make ``int()`` parse thousands of digits).
LIMIT_DIGITS, OFFSET_DIGITS = 3, 6


@dataclass(frozen=True)
class PageQuery:
    """The validated query of one request: which instance, which page, how many."""

    instance: str          # as the client wrote it (scheme optional); see ``domain``
    domain: str            # ``host`` or ``host:port``, the allowlist key
    since_id: str | None = None
    max_id: str | None = None
    min_id: str | None = None
    limit: int = LIMIT_MAX
    local: bool = False
    offset: int = 0  # the routes paged by offset only (``offset`` among their extra parameters)


def _single(args: MultiDict[str, str], name: str) -> str | None:
    values = args.getlist(name)
    if len(values) > 1:
        raise bad_parameter(name, f"{name} was given {len(values)} times; give it once")
    return values[0] if values else None


def _check_known(args: MultiDict[str, str], allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    for name in args:
        if name not in allowed:
            accepted = f"this route accepts {', '.join(allowed)}" if allowed else "this route takes no parameters"
            # quoted as far as the other messages quote (a name may be as long as the request line)
            raise bad_parameter(name[:NAME_SHOWN], f"unknown parameter {quoted(name, NAME_SHOWN)}; {accepted}")


def parse_instance(raw: str | None) -> tuple[str, str]:
    """``instance`` → (as given, domain): exactly the addresses the configuration takes for an instance, named by
    the same domain (:func:`~fediscope.config.instance_domain`), so that an address copied from
    ``FEDISCOPE_INSTANCES`` or ``[[sources]]`` (``Mastodon.Social.``, `` mastodon.social ``) is the allowlisted
    instance (was: refused, 400). Another scheme than http(s), a path, a user or password, a query, port 0, a blank or
    control character inside: a 400 with the configuration's reason, quoting the value once (its first 100
    characters: :func:`~fediscope.wording.quoted`) with any password masked."""
    if raw is None or raw == "":
        raise bad_parameter("instance", "instance is required, e.g. instance=mastodon.social")
    if len(raw) > INSTANCE_MAX_LENGTH:
        raise bad_parameter("instance", f"instance must be at most {INSTANCE_MAX_LENGTH} characters "
                                        f"(got {len(raw)})")
    try:
        return raw, instance_domain(raw)
    except ConfigError as exc:  # its message quotes the value once, cut, a password masked, on one line
        raise bad_parameter("instance", "instance must be a host name with an optional http(s):// and :port "
                                        f"(1-65535), e.g. mastodon.social: {exc}") from None


def is_id(value: str) -> bool:
    """Whether ``value`` is an id the API takes (:data:`ID_PATTERN`, at most :data:`ID_MAX_LENGTH` characters):
    what a ``since_id``/``max_id``/``min_id`` may be, and so what a cursor it hands out may be."""
    return len(value) <= ID_MAX_LENGTH and _ID_RE.fullmatch(value) is not None


def parse_id(name: str, raw: str | None) -> str | None:
    """An id parameter: a Mastodon id or another server's text id (:data:`ID_PATTERN`), else a 400 naming it."""
    if raw is None:
        return None
    if not is_id(raw):
        raise bad_parameter(name, f"{name} must be an id of the instance: 1 to {ID_MAX_LENGTH} ASCII letters and "
                                  f"digits (a Mastodon id is digits, at most {ID_MAX}; other servers' ids, such as "
                                  f"ULIDs, have letters too), as its next/prev cursors give it "
                                  f"(got {quoted(raw, 40)})")
    return raw


def _whole_number(name: str, raw: str, digits: int, low: int, high: int) -> int:
    """``raw`` as a whole number from ``low`` to ``high``, written with at most ``digits`` digits, else a 400 naming
    the parameter and both bounds (``limit=0040`` is in range but too long: the message says why)."""
    if not (0 < len(raw) <= digits and raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise bad_parameter(name, f"{name} must be a whole number from {low} to {high}, written with at most {digits} "
                                  f"digits (got {quoted(raw, 40)})")
    return int(raw)


def parse_limit(raw: str | None, default: int = LIMIT_MAX) -> int:
    if raw is None:
        return min(max(default, LIMIT_MIN), LIMIT_MAX)
    return _whole_number("limit", raw, LIMIT_DIGITS, LIMIT_MIN, LIMIT_MAX)


def parse_offset(raw: str | None) -> int:
    """``offset``: how many items to skip, 0 (the default) to :data:`OFFSET_MAX`."""
    return 0 if raw is None else _whole_number("offset", raw, OFFSET_DIGITS, 0, OFFSET_MAX)


def parse_bool(name: str, raw: str | None) -> bool:
    if raw is None:
        return False
    if raw not in {"true", "false"}:
        raise bad_parameter(name, f"{name} must be true or false (got {quoted(raw, 40)})")
    return raw == "true"


def parse_query(args: MultiDict[str, str], *, extra: tuple[str, ...] = (), default_limit: int = LIMIT_MAX
                ) -> PageQuery:
    """Validate the query string of a records route (``extra`` names route-specific parameters: ``local``,
    ``offset``)."""
    _check_known(args, (*COMMON, *extra))
    instance, domain = parse_instance(_single(args, "instance"))
    return PageQuery(
        instance=instance,
        domain=domain,
        since_id=parse_id("since_id", _single(args, "since_id")),
        max_id=parse_id("max_id", _single(args, "max_id")),
        min_id=parse_id("min_id", _single(args, "min_id")),
        limit=parse_limit(_single(args, "limit"), default_limit),
        local=parse_bool("local", _single(args, "local")) if "local" in extra else False,
        offset=parse_offset(_single(args, "offset")) if "offset" in extra else 0,
    )


def parse_no_query(args: MultiDict[str, str]) -> None:
    """Routes without parameters (health, openapi) still refuse unknown ones."""
    _check_known(args, ())


def tag_source(tag: str) -> SourceRef:
    """The path's hashtag (no '#', Mastodon's charset) as the collector's source."""
    if not tag_re().fullmatch(tag):
        raise bad_parameter("tag", "tag must be 1 to 100 letters (with their combining marks), digits or "
                                   f"underscores, without '#' (got {quoted(tag)})")
    return parse_source(f"tag:{tag}")


@cache
def tag_schema_pattern() -> str:
    """The server's tag pattern (:func:`fediscope.sources.spec.tag_re`) for the OpenAPI document, whose regexes
    are ECMA's, not Python's.

    ``\\w`` is a letter, digit or underscore of any script in Python but ASCII only in ECMA, and ECMA's
    ``\\p{L}`` needs the ``u`` flag, which not every JSON Schema validator sets. So the class is spelled out: every
    character of the Basic Multilingual Plane the server's pattern takes, as ``\\uXXXX`` ranges (the same in
    ECMA with or without ``u``, and in Python), built from the server's own pattern so the two cannot drift. Characters
    beyond the BMP (a CJK Extension B ideograph, say), which the server takes too, cannot be written the same for
    every validator (one UTF-16 code unit pair without ``u``, one code point with it): the document leaves them out."""
    ranges: list[list[int]] = []
    for code in range(0x10000):
        if not 0xD800 <= code <= 0xDFFF and tag_re().fullmatch(chr(code)):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])

    def char(code: int) -> str:
        return chr(code) if chr(code).isascii() and (chr(code).isalnum() or chr(code) == "_") else f"\\u{code:04x}"

    spelled = "".join(char(low) if low == high else f"{char(low)}{'-' if high > low + 1 else ''}{char(high)}"
                      for low, high in ranges)
    return f"^[{spelled}]{{1,{TAG_MAX_LENGTH}}}$"


def account_source(acct: str) -> SourceRef:
    """The path's account (``user`` or ``user@domain``) as the collector's source."""
    if len(acct) > ACCT_MAX_LENGTH:
        raise bad_parameter("acct", f"acct must be at most {ACCT_MAX_LENGTH} characters (got {len(acct)})")
    if not ACCT_RE.fullmatch(acct):
        raise bad_parameter("acct", f"acct must be user or user@domain, e.g. Gargron@mastodon.social "
                                    f"(got {quoted(acct)})")
    return parse_source(f"account:{acct}")


# -- the results routes (stored metrics and analyses) ------------------------------------------------------------

RESULTS_MIN, RESULTS_MAX = 1, 1000
DEFAULT_N, DEFAULT_LIMIT = 10, 100
PREFIX_MAX_LENGTH = 300
#: a page cursor (``after``): base64url without padding, as :mod:`api.results` writes it; the length bounds what a
#: position of the longest keys (three text columns of at most 255 characters, JSON-escaped) takes
AFTER_MAX_LENGTH = 8192
AFTER_PATTERN = r"^[A-Za-z0-9_-]{1," + str(AFTER_MAX_LENGTH) + r"}$"
NAME_PATTERN = r"^[a-z0-9_]{1,64}$"
COUNT_DIGITS = 4
_AFTER_RE = re.compile(AFTER_PATTERN)


@dataclass(frozen=True)
class ResultsQuery:
    """The validated query of a results route: how many rows, and which prefix."""

    n: int = DEFAULT_N               # rows per analysis (as `fediscope report --top`)
    prefix: str | None = None        # a metric's rows whose prefix column equals this value (else: by rank)
    limit: int = DEFAULT_LIMIT       # at most this many metric rows
    after: str | None = None         # the cursor of a previous page (its ``next.after``): the rows after it


def parse_count(name: str, raw: str | None, default: int) -> int:
    return default if raw is None else _whole_number(name, raw, COUNT_DIGITS, RESULTS_MIN, RESULTS_MAX)


def parse_results_query(args: MultiDict[str, str], allowed: tuple[str, ...]) -> ResultsQuery:
    """Validate a results route's query string; ``allowed`` names the parameters the route takes."""
    _check_known(args, allowed)
    prefix = _single(args, "prefix")
    if prefix is not None and not 1 <= len(prefix) <= PREFIX_MAX_LENGTH:
        raise bad_parameter("prefix", f"prefix must be 1 to {PREFIX_MAX_LENGTH} characters")
    after = _single(args, "after")
    if after is not None and not _AFTER_RE.fullmatch(after):
        raise bad_parameter("after", f"after must be the cursor a previous page gave as next.after (1 to "
                                     f"{AFTER_MAX_LENGTH} letters, digits, - and _; got {quoted(after, 40)})")
    return ResultsQuery(n=parse_count("n", _single(args, "n"), DEFAULT_N), prefix=prefix,
                        limit=parse_count("limit", _single(args, "limit"), DEFAULT_LIMIT), after=after)
