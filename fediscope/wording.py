"""Counts in the lines a person reads (progress, summaries): ``1 raw file``, ``2 raw files``.

Only the human output uses this; the ``--json`` documents keep their own field names.
"""

from __future__ import annotations

_ES_ENDINGS = ("s", "x", "z", "ch", "sh")


def plural_of(noun: str) -> str:
    """The plural of ``noun`` (its last word) by the regular English rules: ``status`` → ``statuses``,
    ``batch`` → ``batches``, ``directory`` → ``directories``, ``raw file`` → ``raw files``; an irregular noun
    (``analysis``) is given to :func:`count` with its plural."""
    if noun.endswith(_ES_ENDINGS):
        return noun + "es"
    if len(noun) > 1 and noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def count(n: int, noun: str, plural: str | None = None, *, thousands: bool = False) -> str:
    """``n`` and ``noun``, in the plural unless ``n`` is 1 (``0 rows``, ``1 row``, ``2 rows``); ``plural`` for a
    noun the regular rules get wrong; ``thousands`` separates them (``12,345 rows``), as the report does."""
    return (f"{n:,}" if thousands else str(n)) + " " + (noun if n == 1 else plural or plural_of(noun))


def some_of(items: list[str], shown: int = 5) -> str:
    """The first ``shown`` of ``items``, comma-separated, and how many more there are: ``a, b, c, d, e and 2 more``
    (a line naming hundreds of sources or characters would bury what it says)."""
    return ", ".join(items[:shown]) + (f" and {len(items) - shown} more" if len(items) > shown else "")


#: characters of a value :func:`quoted` quotes (a request line, or a variable, may hold kilobytes of it)
QUOTED_LENGTH = 100


def quoted(value: str, shown: int = QUOTED_LENGTH) -> str:
    """``value`` as an error quotes what it was given (``repr``), its first ``shown`` characters and ``…`` when it is
    longer: a message says what was wrong with a value, and a value of thousands of characters (the scraping API's
    query parameters, an entry of ``FEDISCOPE_INSTANCES``) would bury that, or make a 400 answer kilobytes long."""
    return repr(value[:shown]) + ("…" if len(value) > shown else "")
