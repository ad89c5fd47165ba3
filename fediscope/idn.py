"""Internationalised domain names (``bawü.social``): the one spelling account keys are made of.

A server with a non-ASCII domain has two spellings of it: Unicode (``bawü.social``) and ASCII, its labels in
punycode (``xn--baw-joa.social``). An instance address is ASCII (:func:`fediscope.config.instance_domain` takes no
other), so the records of such a server collected from its own address name its local accounts under the ASCII
spelling, while Mastodon's API writes a remote account's domain in Unicode (``acct``: ``lfdi@bawü.social``). The
landing settles every handle and domain it keys on the ASCII spelling (:func:`landed_domain`), so one person has
one account key whichever instance served the record. Lakes landed before that keep the Unicode spelling's key in
the records other instances served: ``gdpr erase``/``export`` look for both (:func:`unicode_domain`).

Python's own ``idna`` codec (IDNA 2003, with its Nameprep mapping) is the one used everywhere here, so the same
domain is spelled the same way by every path.
"""

from __future__ import annotations


def ascii_domain(domain: str) -> str | None:
    """``bawü.social`` → ``xn--baw-joa.social`` (a ``:port`` kept as it is); an ASCII domain as it is; None when
    the domain cannot be spelled in ASCII (an empty label, ``ü..social``, or one longer than 63 characters)."""
    if domain.isascii():
        return domain
    host, colon, port = domain.partition(":")
    try:
        return host.encode("idna").decode("ascii") + colon + port
    except UnicodeError:
        return None


def landed_domain(domain: str) -> str:
    """A domain as the landing keys it: in lower case and ASCII (:func:`ascii_domain`); one that cannot be spelled
    in ASCII stays as written, in lower case (its key is then the one it always had)."""
    domain = domain.lower()
    return domain if domain.isascii() else ascii_domain(domain) or domain


def landed_handle(handle: str) -> str:
    """``user@domain`` with its domain as the landing keys it (:func:`landed_domain`); the rest as written."""
    if handle.isascii():
        return handle
    user, at, domain = handle.rpartition("@")
    return f"{user}@{landed_domain(domain)}" if at else handle


def unicode_domain(domain: str) -> str | None:
    """The Unicode spelling of a domain with punycode labels (``xn--baw-joa.social`` → ``bawü.social``), None when it
    has none or they do not decode. Mastodon's API writes a remote account's domain in Unicode (``acct``:
    ``lfdi@bawü.social``), and the records of an instance collected from its address hold the punycode one: lakes
    landed before the landing settled on the ASCII spelling hold the same person under both keys, and a request
    must cover both."""
    host, sep, port = domain.partition(":")
    if not any(label.startswith("xn--") for label in host.split(".")):
        return None
    try:
        decoded = host.encode("ascii").decode("idna")
    except UnicodeError:
        return None
    return decoded + sep + port if decoded != host else None
