"""What curation counts as the text a status's author wrote, shared by the curation SQL and the landing.

The curation SQL (:mod:`fediscope.engine.curate_sql`) reads ``url_count``, ``unicode_emoji_count`` and
``content_length`` from a status's ``content`` without the fallback paragraph of a quote post
(:data:`QUOTE_INLINE_RE`), and ``content_length`` counts its characters without HTML tags (:data:`TAG_RE`), a
character reference (:data:`ENTITY_RE`) counting as one. The privacy policy (:mod:`fediscope.privacy`) rewrites the
text at landing (a handle or a link becomes a pseudonym of another length), so it records the length of the text as
written, :func:`authored_length`, which curation then takes instead of measuring the pseudonyms. The patterns are
written for RE2 (DuckDB), Java (Spark) and Python alike; the MapReduce mapper has a copy of them.
"""

from __future__ import annotations

import re

#: An HTML tag and a character reference: ``content_length`` counts the text left without tags, with every
#: reference (``&amp;``, ``&#39;``) as one character.
TAG_RE = r"<[^>]*>"
ENTITY_RE = r"&[#A-Za-z0-9]+;"
#: The fallback Mastodon writes at the start of the text of a quote post for clients that show no quotes (``<p
#: class="quote-inline">RE: <a href="…">…</a></p>``), which clients that show quotes hide: a link to the quoted
#: status, not text or a link of the author's. It is removed before ``url_count``, ``unicode_emoji_count`` and
#: ``content_length`` are read from the text (``curate_sql._authored_text``): a first paragraph of that class holding
#: one anchor, after text and line breaks only. No backreference or lookahead (RE2 has none): inside the anchor,
#: anything but its ``</a>``; anchored at the start, so Python matches it in linear time too. The MapReduce mapper
#: has the same pattern.
QUOTE_INLINE_RE = (r'^<p class="quote-inline">(?:[^<]|<br[^>]*>)*<a[\t\n\f\r ][^>]*>(?:[^<]|<[^/]|</[^a])*</a>'
                   r"(?:[^<]|<br[^>]*>)*</p>")
#: How a quote post's text starts: only such a text is matched against :data:`QUOTE_INLINE_RE`.
QUOTE_INLINE_START = '<p class="quote-inline">'
#: The fallback other servers write at the END of the text of a quote post (FEP-e232 object links: Misskey, Pleroma,
#: Akkoma, the Bluesky bridge; Mastodon keeps the ``quote-inline`` class of remote HTML): an element of that class,
#: ``<span class="quote-inline"><br><br>RE: <a href="…">…</a></span>`` (before the closing ``</p>``, or last), or a
#: last paragraph ``<p class="quote-inline">…</p>``, holding one anchor after text and line breaks only (a prefix
#: other than ``RE:``, ``QT:`` or ``RT:``, is text too). Removed after :data:`QUOTE_INLINE_RE`, alike. The anchor's text
#: holds no ``<span`` and no ``<p`` tag (neither is in a link's text), so no later ``quote-inline`` element lies
#: inside a match: at most one position matches, and each try stops at the next such element — linear time in Python
#: and Java, whichever finds it (``re.search``, ``regexp_replace``). ``\z``: the very end (``$`` also matches before
#: a final line break in Java). The MapReduce mapper has the same pattern.
_BODY = r"(?:[^<]|<br[^>]*>)*<a[\t\n\f\r ][^>]*>(?:[^<]|<[^/ps]|<s[^p]|<p[^\t\n\f\r >]|</[^a])*</a>(?:[^<]|<br[^>]*>)*"
TRAILING_QUOTE_INLINE_RE = (rf'(?:<span class="quote-inline">{_BODY}</span>(?:</p>)?'
                            rf'|<p class="quote-inline">{_BODY}</p>)\z')
#: What a text holds when it may end with such a fallback: only such a text is matched.
QUOTE_INLINE_MARK = 'class="quote-inline">'

_QUOTE_INLINE = re.compile(QUOTE_INLINE_RE)
_TRAILING_QUOTE_INLINE = re.compile(TRAILING_QUOTE_INLINE_RE.replace(r"\z", r"\Z"))  # Python < 3.14: no \z
_ENTITY = re.compile(ENTITY_RE)


def authored_text(content: str) -> str:
    """``content`` without a quote post's fallback: Mastodon's first paragraph (:data:`QUOTE_INLINE_RE`), then another
    server's last element (:data:`TRAILING_QUOTE_INLINE_RE`)."""
    match = _QUOTE_INLINE.match(content) if content.startswith(QUOTE_INLINE_START) else None
    text = content if match is None else content[match.end():]
    trailing = _TRAILING_QUOTE_INLINE.search(text) if QUOTE_INLINE_MARK in text else None
    return text if trailing is None else text[:trailing.start()]  # the match runs to the end


def strip_tags(text: str) -> str:
    """``re.sub(TAG_RE, "", text)`` in linear time: the regex takes quadratic time in Python on a ``<`` with no
    ``>`` after it (``"<" * n``, trying every later ``<`` to the end); RE2 does not. A tag ends at the first ``>``
    after its ``<``, and once a ``<`` has none, no later ``<`` has one either."""
    parts: list[str] = []
    pos = 0
    while True:
        start = text.find("<", pos)
        if start < 0:
            break
        end = text.find(">", start + 1)
        if end < 0:
            break
        parts.append(text[pos:start])
        pos = end + 1
    if not pos:
        return text
    parts.append(text[pos:])
    return "".join(parts)


def authored_length(content: str) -> int:
    """The curated ``content_length`` of ``content`` as written: characters (code points) of its authored text
    (:func:`authored_text`) without tags, a character reference counting as one (``curate_sql._visible_length``)."""
    return len(_ENTITY.sub("&", strip_tags(authored_text(content))))
