"""The query options of store URLs (``?name=value&…``): repeated ones, and the values MySQL's options take.

A URL's query is text; a driver wants numbers and booleans. SQLAlchemy converts some of PyMySQL's options
(``connect_timeout``, ``compress``, ``local_infile`` …) and passes the rest on as written, where a text value is
wrong in ways that showed only later, or never: ``port=3307`` failed at connect ("port should be of type int"),
``ssl_disabled=false`` *disabled* TLS and ``ssl_verify_identity=false`` turned host-name checking on (PyMySQL
tests those for truth, and any non-empty text is true), ``max_allowed_packet=…`` failed mid-query. So every value
is checked when the settings load (:func:`mysql_option_problem`), and the store hands PyMySQL the typed value
(:func:`mysql_connect_args`). An empty value, which SQLAlchemy dropped silently (``charset=``), is refused too.

A repeated option (``?user=a&user=b``) is refused for every store URL (:func:`repeated_option`): SQLAlchemy
passed both values on as a tuple and the SQLite and HBase parsers kept the last, silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

#: The words SQLAlchemy reads as a boolean option's true or false (``sqlalchemy.util.asbool``).
TRUE_FALSE = {**dict.fromkeys(("true", "yes", "on", "y", "t", "1"), True),
              **dict.fromkeys(("false", "no", "off", "n", "f", "0"), False)}

#: PyMySQL's upper bound of ``connect_timeout`` (its ``Connection`` refuses more): a year, in seconds.
MAX_CONNECT_TIMEOUT = 31536000


def repeated_option(names: Iterable[str]) -> str | None:
    """The problem of a query that names an option more than once (None when none is repeated), worded to follow
    the URL; never a value (it may be a password)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return f"has the option {name!r} more than once: give it once"
        seen.add(name)
    return None


def _boolean(text: str) -> bool:
    try:
        return TRUE_FALSE[text.strip().lower()]
    except KeyError:
        raise ValueError(text) from None


def _false_only(text: str) -> bool:
    if _boolean(text):
        raise ValueError(text)
    return False


def _whole(low: int, high: int | None = None) -> Callable[[str], int]:
    def convert(text: str) -> int:
        number = int(text) if text.isascii() and text.isdigit() else None  # "²".isdigit() is True
        if number is None or number < low or (high is not None and number > high):
            raise ValueError(text)
        return number
    return convert


_TRUE_OR_FALSE = (_boolean, "true or false")
#: What PyMySQL's typed options take: a converter (ValueError for a value it cannot take) and those values in words.
#: The other options (``user``, ``charset``, ``ssl_ca`` …) take text, any but empty.
MYSQL_OPTION_VALUES: dict[str, tuple[Callable[[str], Any], str]] = {
    "connect_timeout": (_whole(1, MAX_CONNECT_TIMEOUT), f"a whole number of seconds from 1 to {MAX_CONNECT_TIMEOUT}"),
    "read_timeout": (_whole(1), "a whole number of seconds above 0"),
    "write_timeout": (_whole(1), "a whole number of seconds above 0"),
    "client_flag": (_whole(0), "a whole number >= 0 (PyMySQL's CLIENT flags)"),
    "port": (_whole(1, 65535), "a port number from 1 to 65535"),
    "max_allowed_packet": (_whole(1), "a whole number of bytes above 0"),
    "compress": (_false_only, "false (PyMySQL does not support compression; leave it out)"),
    "named_pipe": (_false_only, "false (PyMySQL does not support named pipes; leave it out)"),
    **dict.fromkeys(("autocommit", "binary_prefix", "local_infile", "use_unicode", "ssl_check_hostname",
                     "ssl_disabled", "ssl_verify_cert", "ssl_verify_identity"), _TRUE_OR_FALSE),
}
#: The typed options SQLAlchemy passes on to PyMySQL as text (it converts the others itself).
_PASSED_AS_TEXT = ("port", "max_allowed_packet", "autocommit", "binary_prefix", "named_pipe", "ssl_disabled",
                   "ssl_verify_cert", "ssl_verify_identity")


def mysql_option_problem(name: str, value: Any) -> str | None:
    """What is wrong with the value of a MySQL URL's known query option ``name`` (None: nothing), worded to follow
    the URL. ``value`` is as SQLAlchemy parsed it (with blank values kept): a tuple for a repeated option. Only a
    typed option's value is quoted (a text one may be a password)."""
    if not isinstance(value, str):
        return repeated_option([name, name])
    if not value:
        return f"has the option {name} with an empty value: give it a value or leave it out"
    if rule := MYSQL_OPTION_VALUES.get(name):
        convert, takes = rule
        try:
            convert(value)
        except ValueError:
            return f"has the option {name}={value!r}, which is not {takes}"
    return None


def mysql_connect_args(query: Mapping[str, Any]) -> dict[str, Any]:
    """The typed values of a checked MySQL URL's options that SQLAlchemy would pass on to PyMySQL as text, for
    ``create_engine``'s ``connect_args`` (which override the URL's)."""
    return {name: MYSQL_OPTION_VALUES[name][0](query[name]) for name in _PASSED_AS_TEXT if name in query}
