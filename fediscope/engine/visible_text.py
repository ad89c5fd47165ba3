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
#: reference (``&amp;``, ``&#39;``) as one character. A tag starts as HTML starts one: ``<`` and an ASCII letter, ``/``,
#: ``!`` or ``?`` (``a < b > c`` and ``I <3 you`` are text); it ends at the next ``>``. A numeric reference needs no
#: ``;`` (HTML reads ``&#128512`` and ``&#x1F600`` too, the number ending at the first character that is no digit of
#: it); a named one does (``&amp;``). References are read before tags are removed (:func:`authored_length`), so
#: that a tag ends a reference's number as it does in HTML (``&#9749<b>9</b>`` is ☕ and 9).
TAG_RE = r"<[A-Za-z/!?][^>]*>"
ENTITY_RE = r"&(?:#(?:[0-9]+|[xX][0-9a-fA-F]+);?|[A-Za-z0-9]+;)"


def caseless(name: str) -> str:
    """A regex of the ASCII name ``name`` in any case (``[cC][lL]…``), as HTML reads tag and attribute names: RE2,
    Java and Python spell an inline case flag differently, a character class alike (also ``curate_sql``'s)."""
    return "".join(f"[{c.lower()}{c.upper()}]" for c in name)


#: A tag opening or closing the element ``name`` (any case), without its ``<``/``</``; a line break, an anchor.
_P, _SPAN, _BR, _A = caseless("p"), caseless("span"), caseless("br"), caseless("a")
_CLASS_QUOTE_INLINE = f'{caseless("class")}="quote-inline">'
#: The fallback Mastodon writes at the start of the text of a quote post for clients that show no quotes (``<p
#: class="quote-inline">RE: <a href="…">…</a></p>``), which clients that show quotes hide: a link to the quoted
#: status, not text or a link of the author's. It is removed before ``url_count``, ``unicode_emoji_count`` and
#: ``content_length`` are read from the text (``curate_sql._authored_text``): a first paragraph of that class holding
#: one anchor, after text and line breaks only. Tag and attribute names in any case (``<P CLASS="quote-inline">``,
#: ``<A HREF=…>``, ``<BR>``), as HTML reads them; the class as written. No backreference or lookahead (RE2 has
#: none): inside the anchor, anything but its ``</a>``; anchored at the start, so Python matches it in linear time
#: too. The MapReduce mapper has the same pattern.
QUOTE_INLINE_RE = (rf"^<{_P} {_CLASS_QUOTE_INLINE}(?:[^<]|<{_BR}[^>]*>)*<{_A}[\t\n\f\r ][^>]*>"
                   rf"(?:[^<]|<[^/]|</[^aA])*</{_A}>(?:[^<]|<{_BR}[^>]*>)*</{_P}>")
#: Where a quote post's text holds :data:`QUOTE_INLINE_MARK` (from its 9th character, after ``<p class``, its names
#: in any case): only such a text is matched against :data:`QUOTE_INLINE_RE`.
QUOTE_INLINE_MARK_AT = 9
#: The fallback other servers write at the END of the text of a quote post (FEP-e232 object links: Misskey, Pleroma,
#: Akkoma, the Bluesky bridge; Mastodon keeps the ``quote-inline`` class of remote HTML): an element of that class,
#: ``<span class="quote-inline"><br><br>RE: <a href="…">…</a></span>`` (before the closing ``</p>``, or last), or a
#: last paragraph ``<p class="quote-inline">…</p>``, holding one anchor after text and line breaks only (a prefix
#: other than ``RE:``, ``QT:`` or ``RT:``, is text too); tag and attribute names in any case. Removed after
#: :data:`QUOTE_INLINE_RE`, alike. The anchor's text holds no ``<span`` and no ``<p`` tag (neither is in a link's
#: text), so no later ``quote-inline`` element lies inside a match: at most one position matches, and each try stops
#: at the next such element — linear time in Python and Java, whichever finds it (``re.search``,
#: ``regexp_replace``). ``\z``: the very end (``$`` also matches before a final line break in Java). The MapReduce
#: mapper has the same pattern.
_BODY = (rf"(?:[^<]|<{_BR}[^>]*>)*<{_A}[\t\n\f\r ][^>]*>"
         rf"(?:[^<]|<[^/pPsS]|<[sS][^pP]|<[pP][^\t\n\f\r >]|</[^aA])*</{_A}>(?:[^<]|<{_BR}[^>]*>)*")
TRAILING_QUOTE_INLINE_RE = (rf"(?:<{_SPAN} {_CLASS_QUOTE_INLINE}{_BODY}</{_SPAN}>(?:</{_P}>)?"
                            rf"|<{_P} {_CLASS_QUOTE_INLINE}{_BODY}</{_P}>)\z")
#: What a text holds when it may end with such a fallback (or start with one, :data:`QUOTE_INLINE_MARK_AT`): only
#: such a text is matched.
QUOTE_INLINE_MARK = '="quote-inline">'

_QUOTE_INLINE = re.compile(QUOTE_INLINE_RE)
_TRAILING_QUOTE_INLINE = re.compile(TRAILING_QUOTE_INLINE_RE.replace(r"\z", r"\Z"))  # Python < 3.14: no \z
_ENTITY = re.compile(ENTITY_RE)
_TAG_START = re.compile(TAG_RE[:TAG_RE.index("]") + 1])


def authored_text(content: str) -> str:
    """``content`` without a quote post's fallback: Mastodon's first paragraph (:data:`QUOTE_INLINE_RE`), then another
    server's last element (:data:`TRAILING_QUOTE_INLINE_RE`)."""
    start = QUOTE_INLINE_MARK_AT - 1
    match = _QUOTE_INLINE.match(content) if content[start:start + len(QUOTE_INLINE_MARK)] == QUOTE_INLINE_MARK else None
    text = content if match is None else content[match.end():]
    trailing = _TRAILING_QUOTE_INLINE.search(text) if QUOTE_INLINE_MARK in text else None
    return text if trailing is None else text[:trailing.start()]  # the match runs to the end


def strip_tags(text: str) -> str:
    """``re.sub(TAG_RE, "", text)`` in linear time: the regex takes quadratic time in Python on a tag's start with
    no ``>`` after it (``"<a" * n``, trying every later start to the end); RE2 does not. A tag ends at the first
    ``>`` after its start, and once a start has none, no later start has one either."""
    parts: list[str] = []
    pos = 0
    while True:
        found = _TAG_START.search(text, pos)
        if found is None:
            break
        start = found.start()
        end = text.find(">", start + 2)
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
    (:func:`authored_text`) without tags, a character reference counting as one (``curate_sql._visible_length``),
    the references read first (:data:`ENTITY_RE`)."""
    return len(strip_tags(_ENTITY.sub("&", authored_text(content))))
