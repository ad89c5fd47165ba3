"""How messages and logs show a request's path or URL: without what names an account (its id, its handle).

An instance's own account id names the person through its public API (``/api/v1/accounts/109…/statuses``, with its
instance): the lake holds only its pseudonym, so error messages and log lines name the path's template instead
(``/api/v1/accounts/:id/statuses``, as the lake's envelope does). ``lookup`` takes the handle as a parameter
(``?acct=``), which no message shows: where a whole URL is quoted (a redirect's target, :mod:`redirects`), its value
is shown as ``:acct``. Here, not in :mod:`~fediscope.sources.client`, which imports :mod:`redirects`.
:func:`account_statuses_path` writes the one path the collector asks with an account id, and its template.
"""

from __future__ import annotations

import re
from urllib.parse import quote

#: What stands for an account id in a path as messages, logs and the lake's envelope show it.
SHOWN_ACCOUNT_ID = ":id"

#: The account part of a path: ``/api/v1/accounts/<id>`` (not ``/api/v1/accounts/lookup``).
_ACCOUNT_PATH = r"(/api/v\d+/accounts/)(?!lookup(?:[/?#]|$))[^/?#]+"
_ACCOUNT_PATH_RE = re.compile("^" + _ACCOUNT_PATH)
#: The same in a URL's path: after the scheme and the authority (as :func:`urllib.parse.urlsplit` splits them, but
#: without its ValueError for an address that is none: a redirect's target may be one).
_ACCOUNT_URL_PATH_RE = re.compile(r"^((?:[a-zA-Z][a-zA-Z0-9+.\-]*:)?(?://[^/?#]*)?)" + _ACCOUNT_PATH)
#: A lookup's handle in a query string (``?acct=alice@example.org``, percent-encoded or not).
_ACCT_PARAM_RE = re.compile(r"([?&]acct=)[^&#]*", re.IGNORECASE)


def shown_endpoint(endpoint: str) -> str:
    """``endpoint`` as messages and logs show it: an account id in its path replaced by ``:id``."""
    return _ACCOUNT_PATH_RE.sub(r"\1" + SHOWN_ACCOUNT_ID, endpoint)


def shown_url(url: str) -> str:
    """``url`` as messages and logs show it: its path as :func:`shown_endpoint` shows an endpoint, and the value of
    an ``acct=`` parameter (a lookup's handle) replaced by ``:acct``."""
    url = _ACCOUNT_URL_PATH_RE.sub(r"\1\2" + SHOWN_ACCOUNT_ID, url)
    query_start = url.find("?")
    if query_start < 0:
        return url
    return url[:query_start] + _ACCT_PARAM_RE.sub(r"\1:acct", url[query_start:])


def account_statuses_path(account_id: str | None = None) -> str:
    """The path of an account's statuses: of ``account_id`` (percent-encoded), the one requested; without it, its
    template (``/api/v1/accounts/:id/statuses``), which the lake's envelope records and :func:`shown_endpoint`
    shows for the requested one."""
    shown = SHOWN_ACCOUNT_ID if account_id is None else quote(account_id, safe="")
    return f"/api/v1/accounts/{shown}/statuses"
