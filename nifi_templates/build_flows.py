"""Build the NiFi 2.x flow definitions of this folder from one description: ``python nifi_templates/build_flows.py``.

Both flows (``mastodon_to_hdfs.json``, ``mastodon_to_files.json``) share every processor but the two that write
files, so they are generated from the same code instead of being edited by hand in two places. Identifiers are
UUIDs derived from the flow and component names: rebuilding gives the same file, and ``tests/nifi`` checks that
the committed JSON is exactly what this script produces.

How the flow works (NiFi terms in brackets):

1. A timer [GenerateFlowFile, primary node only] emits an empty FlowFile every few minutes: one "walk".
2. ``Cursor`` [UpdateAttribute, *Store state locally*] keeps the paging cursor in FlowFile attributes
   (``page``, ``max_id``, ``walk.upper``) and in processor state the checkpoint (``newest_id``, the ``since_id``
   of the next walk, moved only when a walk reaches it) and the cursor of a walk that spent ``max_pages``
   (``resume_max_id``, ``resume_upper``), which the next poll resumes. Every page's response loops back through it.
   It also holds the walk lock (``walk_lock``, ``walk_seen``): one walk at a time.
3. ``More pages?`` [RouteOnAttribute] lets a FlowFile through to ``Fetch page`` for the first page (unless another
   walk is in flight: the poll is dropped), and for
   the next pages while the API returned a ``next`` cursor and ``#{max_pages}`` is not reached.
4. ``Fetch page`` [InvokeHTTP] calls the scraping API with the ``X-API-Key`` header (a sensitive parameter);
   5xx, 429 (``Throttled?`` [RouteOnAttribute]) and connection failures are retried, but not a 5xx whose error
   code says a retry cannot help (``PERMANENT_ERRORS``). A failed request keeps the API's whole answer
   (``RESPONSE_BODY_BYTES``); ``Page answered?`` [RouteOnAttribute] lets only 2xx pages on.
5. ``Read cursor`` [EvaluateJsonPath] copies the API's cursors into attributes (``$.next.max_id``: the next,
   older page; ``$.prev.min_id``: the newest id of this page); the FlowFile is cloned: one copy goes back to
   ``Cursor``, the other is split into one FlowFile per record [SplitJson].
6. ``Read record meta`` + ``Set lake path`` compute ``raw/mastodon/statuses/instance=<domain>/dt=<fetch date>``
   from the record's envelope (the layout of ``fediscope.lake.layout.partition_dir``).
7. ``Merge into batch files`` [MergeContent] bins records per partition into JSON Lines files; ``Name batch
   file`` gives them the collector's batch-id form; the writer [PutHDFS / PutFile] writes each file under a
   temporary dot-name and renames it, so a batch appears whole or not at all.
8. Failures are never dropped: fetch and write failures go through [RetryFlowFile] back to where they failed,
   and when retries are exhausted (or the failure cannot be retried) to ``quarantine/instance=<domain>/dt=…``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: Bundle version written into the files: the NiFi release whose processor definitions the property keys are checked
#: against (``tests/data/nifi/processors.json``). NiFi resolves a processor to the installed version of its bundle when
#: exactly one version is present, but the keys are that release's: NiFi renamed some within 2.x (PutHDFS's
#: ``writing-strategy`` is ``Writing Strategy`` since October 2025, InvokeHTTP's ``Remote URL`` is ``HTTP URL``), and
#: an older release shows such a key as an unknown property and the processor invalid.
NIFI_VERSION = "2.12.0"
PARAMETER_CONTEXT = "fediscope-mastodon"
_NAMESPACE = uuid.UUID("6f1d3c4e-2b7a-4f0e-9a51-3c8e5d2b9f10")

STANDARD = ("org.apache.nifi", "nifi-standard-nar")
UPDATE_ATTRIBUTE = ("org.apache.nifi", "nifi-update-attribute-nar")
HADOOP = ("org.apache.nifi", "nifi-hadoop-nar")
_PKG = "org.apache.nifi.processors."

#: ``YYYY-MM-DD`` (UTC) and the batch-id timestamp of ``fediscope.lake.layout.new_batch_id``.
TODAY = "${now():format('yyyy-MM-dd', 'GMT')}"
BATCH_ID = "${now():format(\"yyyyMMdd'T'HHmmss'Z'\", 'GMT')}-${uuid:substring(0, 8)}"


def _fediscope_version() -> str:
    """``fediscope.__version__``, read from its source beside this folder (the builder runs without fediscope
    installed): a version bump makes ``tests/nifi`` report the committed flows stale until they are rebuilt."""
    source = (HERE.parent / "fediscope" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"$', source, re.MULTILINE)
    if found is None:
        raise SystemExit("fediscope/__init__.py names no __version__")
    return found.group(1)


#: The User-Agent of ``Fetch page``, in the form of the collector's (``fediscope.sources.client.USER_AGENT``): the
#: tool, its version and where to read about it. The flow asks only the fediscope scraping API, never an instance (the
#: API's own requests name fediscope and FEDISCOPE_CONTACT), so it tells the API's operator, in the access log, which
#: flow release is calling: no contact is needed there.
PROJECT_URL = "https://github.com/fediscope/fediscope"
USER_AGENT = f"fediscope-nifi/{_fediscope_version()} (+{PROJECT_URL}; NiFi flow)"


def url_encoded(parameter: str) -> str:
    """The parameter's value as one URL component: NiFi's ``urlEncode`` is Java's ``URLEncoder`` (form encoding: a
    space is ``+``, every character but ``A-Za-z0-9.-*_`` a ``%XX`` escape of its UTF-8 bytes), which the API
    (werkzeug's form decoding) reads back as written. Unencoded, an ``&`` in ``instance`` split the query
    (``instance=a&max_id=5`` asked for another page), a ``#`` cut the rest off as a fragment (the cursor with it,
    so every page was the first), a ``+`` became a space and a ``%`` an escape."""
    return "${#{" + parameter + "}:urlEncode()}"


def verbatim(parameter: str) -> str:
    """The parameter's value as it is written, for a property that supports the Expression Language. Referenced
    outside an expression (``#{lake_dir}/…``), NiFi pastes the value into the property's text and then evaluates that
    whole text (``StandardProcessContext``: ``Query.prepareWithParametersPreEvaluated`` of the effective value), so a
    ``${x}`` in the value was an expression (an attribute, mostly empty), a ``$$`` a ``$``, and a ``$`` shifted what
    NiFi's parameter parser took for the property's expressions. As the subject of an expression the Expression
    Language reads the value whole and never evaluates it. A sensitive parameter cannot be referenced so (NiFi refuses
    ``${#{api_key}}``): ``api_key`` stays ``#{api_key}``, so a ``$`` in the key is read as Expression Language (the
    keys ``fediscope.config.API_KEY_COMMAND`` makes hold none)."""
    return "${#{" + parameter + "}}"


#: The scraping API URL of the route a walk pages through (see api/ and its /openapi.json) and the start of its
#: query, in one expression. A parameter is referenced inside an expression as its subject or argument
#: (``${#{hashtag}:…}``): the Expression Language reads it there, its value whole (a ``'``, ``}`` or ``${`` in it is a
#: character like any other); in a string literal (``${literal('#{instance}')}``) it is text, the 11 characters
#: ``#{instance}``. All three references are in the value's first expression: NiFi's parameter parser
#: (``ExpressionLanguageAwareParameterParser``) tells an expression by the parity of the ``$`` signs read so far, never
#: reset, so it does not see the second ``${`` of a value as one and replaced a ``#{instance}`` there as text
#: (``${mastodon.social:urlEncode()}``: an attribute).
API_ROUTE = "/v1/timelines/tag/"
API_URL = ("${#{api_url}:append('" + API_ROUTE + "'):append(${#{hashtag}:urlEncode()}):append('?instance=')"
           ":append(" + url_encoded("instance") + ")}")
FETCH_URL = (
    API_URL + "&limit=40"
    "${max_id:isEmpty():ifElse('', ${max_id:urlEncode():prepend('&max_id=')})}"
    "${since_id:isEmpty():or(${since_id:equals('0')}):ifElse('', ${since_id:urlEncode():prepend('&since_id=')})}"
)
#: The ``instance`` parameter as ``fediscope.config.instance_domain`` names the instance, the way the scraping API
#: reads it: ``https://Mastodon.Social/``, ``mastodon.social.`` and ``mastodon.social:443`` are ``mastodon.social``
#: (lower case; no blanks around it, scheme, final dot, trailing ``/``, or port the scheme connects to anyway: 443, and
#: 80 after ``http://``; a port's leading zeros dropped). The paths the flow names itself (the quarantine, and the
#: partition of a record without ``meta.instance``) are computed here, not read from the API's answer, because a
#: FlowFile may reach the quarantine without one: a connection failure, a refused request. A value that is no
#: instance address (a path, a user name and password, another scheme, port 0, a blank inside, no host name, nothing),
#: which the API refuses (400), is ``_invalid``: one directory, never nested by a ``/``, never a password in a path,
#: and no domain's (``_`` is in no host name).
HOST_LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
PORT = "(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
INSTANCE_DOMAIN = (
    "${#{instance}:trim():toLower()"
    ":replaceAll('^(?:http://([a-z0-9.-]+?)\\.?(?::0*80|:|(:)0*([1-9][0-9]*))?"
    "|(?:https://)?([a-z0-9.-]+?)\\.?(?::0*443|:|(:)0*([1-9][0-9]*))?)/?$', '$1$2$3$4$5$6')"
    # a host name (at most 253 characters, RFC 1123 labels) and a port 1-65535, else _invalid
    ":replaceAll('^(?!(?![^:]{254})" + HOST_LABEL + "(?:\\." + HOST_LABEL + ")*(?::" + PORT + ")?$)[\\s\\S]*', "
    "'_invalid')}"
)
#: Relative lake directory of one record, from its envelope (falls back to the parameters and today's date).
LAKE_PARTITION = (
    "raw/mastodon/statuses/instance=${record.instance:isEmpty():ifElse(" + INSTANCE_DOMAIN + ", ${record.instance})}"
    "/dt=${record.fetched_at:isEmpty():ifElse(" + TODAY + ", ${record.fetched_at:substring(0, 10)})}"
)
#: Records per landed batch file, and how long a partition's bin waits for them before it is written anyway.
MERGE_RECORDS = 5000
MERGE_MAX_AGE = "2 min"
QUARANTINE_DIR = "quarantine/instance=" + INSTANCE_DOMAIN + "/dt=" + TODAY
QUARANTINE_NAME = ("nifi_${quarantine.reason:isEmpty():ifElse('unprocessable', ${quarantine.reason})}-"
                   + BATCH_ID + ".json")


#: How much of a failed request's answer ``Fetch page`` keeps in ``invokehttp.response.body`` (``Throttled?`` reads
#: its error code, ``Describe failed request`` quarantines it as ``answer``). InvokeHTTP keeps 256 bytes unless
#: ``Response Body Attribute Name`` is set: its ``Response Body Attribute Size`` applies only then (NiFi 2.x
#: ``InvokeHTTP.onTrigger``), and the API's answers are longer: a TLS error's is 271 bytes, a 5xx naming a
#: 253-character domain and its ``FEDISCOPE_TOKEN_*`` variable (``upstream_rejected``) about 740. The API relays no
#: upstream text and quotes a value it was given once, cut to 100 characters (``fediscope.wording.quoted``), each
#: up to 12 bytes JSON-escaped (``\ud83d\ude00``): its longest answers to this request, 400s quoting an
#: ``instance`` that is no address, take about 1.5 KB, so 8192 keeps every answer whole (and kept the 7.5 KB an
#: unreadable port's answer took before the quote was cut). It costs little:
#: a 2xx page's copy goes with ``Original``, which is dropped, and a request retried carries a 5xx or 429 answer.
RESPONSE_BODY_BYTES = 8192
#: InvokeHTTP properties that keep the whole answer: with ``Response Body Attribute Name`` set, InvokeHTTP writes
#: no ``Response`` for a 2xx unless ``Response Generation Required`` is true, which also sends a non-2xx answer to
#: ``Response``; ``Page answered?`` lets only the 2xx pages on to ``Read cursor``.
RESPONSE_BODY_PROPERTIES = {
    "Response Body Attribute Name": "invokehttp.response.body",
    "Response Body Attribute Size": str(RESPONSE_BODY_BYTES),
    "Response Generation Required": "true",
}
#: ``Page answered?``: a 2xx page, not a copy of an error answer (its request FlowFile went to ``Throttled?``).
ANSWERED = "${invokehttp.status.code:ge(200):and(${invokehttp.status.code:lt(300)})}"


#: The scraping API's error codes (``{"error": {"status", "code", …}}``, api/README.md) of 5xx answers that a retry
#: minutes later cannot turn into a page: the instance's TLS fails the same way (``upstream_tls_error``, which the API
#: itself does not retry), it redirects elsewhere again (``upstream_redirect_refused``), refuses the request again
#: (``upstream_rejected``: its 4xx other than 404 and 429, e.g. a token to set), or the API's pseudonym key is not the
#: lake's until the operator restarts it (``key_mismatch``). Such an answer is quarantined at once instead of being
#: retried 5 times a minute apart; the walk is walked again by a later poll, as after the retries.
PERMANENT_ERRORS = ("upstream_tls_error", "upstream_redirect_refused", "upstream_rejected", "key_mismatch")
#: Whether InvokeHTTP's ``invokehttp.response.body`` (the answer's first ``RESPONSE_BODY_BYTES``, where the API
#: writes ``code`` right after ``status``) names one of them. A regular expression, not a JSON path: a body longer
#: than that is cut (no longer JSON), and a proxy's HTML error page must be retried, not fail the expression. A
#: ``"code"`` inside the message is escaped (``\"code\"``) and does not match.
PERMANENT_ERROR = ("${invokehttp.response.body:matches('[\\s\\S]*\"code\" *: *\"(?:" + "|".join(PERMANENT_ERRORS)
                   + ")\"[\\s\\S]*')}")
#: ``Throttled?``: retried are 429 (the API's rate limit or the instance's) and the 5xx answers but those above.
RETRIED = {
    "throttled": "${invokehttp.status.code:equals('429')}",
    "transient": "${invokehttp.status.code:ge(500):and(" + PERMANENT_ERROR[:-1] + ":not()})}",
}


def _masked(attribute: str) -> str:
    """``attribute`` (a request URL, or an error quoting one) as JSON string content, a user name and password in it
    masked: the URL's own (``http://user:pw@api:8080/…``: ``//***@``), and the ``instance`` parameter's as typed
    (``?instance=https://user:pw@host``: ``?instance=***@host``, to its last ``@``, also ``%40``, so a password holding
    ``/`` or ``@`` is masked whole). The API refuses such an instance (400, its answer masks the password);
    unmasked, the quarantined description put the password in the lake. The account an account route names
    (``/v1/accounts/<user@domain>/statuses``, a flow changed to follow an account: nifi_templates/README.md) is
    masked too (``/v1/accounts/***/statuses``): NiFi writes the description to the quarantine itself, so neither the
    privacy policy (a clear handle in a pseudonymised lake) nor the erasure sees it; was: once the account was erased,
    every poll quarantined its handle again (the API's 410 ``erased_account``, which names no account)."""
    return ("${" + attribute + ":replaceAll('([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\\s]*@', '$1***@')"
            ":replaceAll('([?&]instance=)[\\s\\S]*(?:@|%40)', '$1***@')"
            ":replaceAll('(/v1/accounts/)[^/?#\\s]+', '$1***'):escapeJson()}")


FAILED_REQUEST = (
    '{"stage": "fetch", "url": "' + _masked("invokehttp.request.url") + '", '
    '"status": "${invokehttp.status.code}", "message": "${invokehttp.status.message:escapeJson()}", '
    '"answer": "${invokehttp.response.body:escapeJson()}", '
    '"error": "' + _masked("invokehttp.java.exception.message") + '", "page": "${page}", '
    '"retries": "${fetch.retries}", "at": "${now():format(\"yyyy-MM-dd\'T\'HH:mm:ss\'Z\'\", \'GMT\')}"}\n'
)


def _state(name: str) -> str:
    """A state variable, '' while it holds the initial value '0' (or is absent: a flow upgraded in place)."""
    return "${getStateValue('" + name + "'):equals('0'):ifElse('', ${getStateValue('" + name + "')})}"


#: The walk's top: the newest id of its first page, or the top a resumed walk inherited.
_UPPER = "${walk.upper:isEmpty():ifElse(${newest.id}, ${walk.upper})}"
#: Conditions on a page response (a timer FlowFile has no ``page``), from the attributes ``Read cursor`` set.
_TIMER = "${page:isEmpty()}"
_NO_CHECKPOINT = "${since_id:isEmpty():or(${since_id:equals('0')})}"
_HAS_CHECKPOINT = "${since_id:isEmpty():not():and(${since_id:equals('0'):not()})}"
#: The walk ends here: no older page, or a first walk (no checkpoint yet) has gone max_pages deep (its backfill).
_CLOSED = ("${page:isEmpty():not():and(${next.max_id:isEmpty():or(${page:ge(#{max_pages}):and("
           + _NO_CHECKPOINT + ")})})}")
#: The walk spent max_pages before reaching the checkpoint: the next poll resumes it from its cursor.
_SPENT = ("${page:isEmpty():not():and(${next.max_id:isEmpty():not()}):and(${page:ge(#{max_pages})})"
          ":and(" + _HAS_CHECKPOINT + ")}")


def _if(condition: str, yes: str, no: str) -> str:
    return "${" + condition[2:-1] + ":ifElse(" + yes + ", " + no + ")}"


def _on(expression: str, functions: str) -> str:
    """``expression`` (``${…}``) with more functions applied to its value: ``_on("${a}", ":isEmpty()")``."""
    return "${" + expression[2:-1] + functions + "}"


_CHECKPOINT = "${getStateValue('newest_id')}"
#: Both the walk's top and the checkpoint are numbers (Mastodon's snowflakes; the initial '0'): NiFi's ``gt``
#: reads anything else (a ULID, a FlakeId) as null, and is false.
_BOTH_NUMBERS = _on(_UPPER, ":matches('[0-9]+'):and(" + _on(_CHECKPOINT, ":matches('[0-9]+')") + ")")
#: Where a closed walk moves the checkpoint: to its top, unless it has none (an empty first page) or, both being
#: numbers, the top is not above the checkpoint. The Expression Language cannot order text, and need not: the
#: top is the newest status of a walk asked with ``since_id=<checkpoint>``, above it in the server's own order
#: (GoToSocial's ULIDs and Pleroma's FlakeIds are ordered by time as text of one length; Pleroma's older
#: numeric ids lie below every FlakeId).
_MOVED = _if(_on(_UPPER, ":isEmpty()"), _CHECKPOINT,
             _if(_BOTH_NUMBERS, _if(_on(_UPPER, ":gt(" + _CHECKPOINT + ")"), _UPPER, _CHECKPOINT), _UPPER))


#: ``Cursor``'s rules, evaluated against the incoming attributes and the state as it was before this FlowFile
#: (UpdateAttribute writes every one of them to state too; only ``newest_id`` and ``resume_*`` are read back).
#: The checkpoint moves only when a walk has closed its gap down to the previous checkpoint, like the collector's
#: (``fediscope.sources.collector``): a walk that fails half-way is walked again, one that spends ``max_pages``
#: is resumed from its cursor, so no status between two checkpoints is skipped.
CURSOR = {
    "page": "${page:isEmpty():ifElse('1', ${page:plus(1)})}",
    "max_id": _if(_TIMER, _state("resume_max_id"), "${next.max_id}"),
    "since_id": "${page:isEmpty():ifElse(${getStateValue('newest_id')}, ${since_id})}",
    "walk.upper": _if(_TIMER, _state("resume_upper"), _UPPER),
    "newest_id": _if(_CLOSED, _MOVED, _CHECKPOINT),
    "resume_max_id": _if(_CLOSED, "''", _if(_SPENT, "${next.max_id}", "${getStateValue('resume_max_id')}")),
    "resume_upper": _if(_CLOSED, "''", _if(_SPENT, _UPPER, "${getStateValue('resume_upper')}")),
}

#: How long a walk holds the walk lock after its last page went through ``Cursor``: longer than a page can take to
#: come back (6 tries of ``Fetch page``, each up to its 5 s connection and 60 s read timeouts, 1 min penalty between
#: them: 11.5 min). A walk that ends without reaching ``Cursor`` again (a page quarantined) holds it that long.
WALK_LOCK_MINUTES = 15
_LOCK = "${getStateValue('walk_lock')}"
_SEEN = "${getStateValue('walk_seen')}"
_NOW_MS = "${now():toNumber()}"
#: Another walk is in flight: it holds the lock ('0' initially, absent in a flow upgraded in place: free) and its last
#: page went through ``Cursor`` less than WALK_LOCK_MINUTES ago.
_HELD = ("${getStateValue('walk_lock'):isEmpty():or(${getStateValue('walk_lock'):equals('0')}):not()"
         ":and(${now():toNumber():minus(" + _SEEN + "):lt(" + str(WALK_LOCK_MINUTES * 60_000) + ")})}")
#: This page's walk holds the lock (it started it, and no other walk took it over once it had expired).
_OWNER = "${walk.id:equals(" + _LOCK + ")}"
#: This page ends its walk: closed, or max_pages spent (``More pages?`` lets no further page through).
_ENDED = "${page:isEmpty():not():and(${next.max_id:isEmpty():or(${page:ge(#{max_pages})})})}"
#: The walk lock: a poll while a walk is in flight starts no walk of its own (``More pages?`` drops it). Overlapping
#: walks, a poll arriving while the last one still retried a page, walked the same pages twice (landing them twice),
#: and the one closing last set the checkpoint back to its older top (text ids, which are not compared), so the
#: next walks walked that range a third time.
WALK_LOCK = {
    "walk.id": _if(_TIMER, "${uuid}", "${walk.id}"),
    "walk.skipped": _if(_TIMER, _if(_HELD, "'true'", "'false'"), "'false'"),
    "walk_lock": _if(_TIMER, _if(_HELD, _LOCK, "${uuid}"), _if(_OWNER, _if(_ENDED, "''", "${walk.id}"), _LOCK)),
    "walk_seen": _if(_TIMER, _if(_HELD, _SEEN, _NOW_MS), _if(_OWNER, _NOW_MS, _SEEN)),
}
#: ``More pages?``: a walk's first page unless another walk is in flight, then each next page while the API gave a
#: cursor and max_pages is not reached.
MORE_PAGES = ("${walk.skipped:equals('true'):not():and(${page:equals('1'):or(${max_id:isEmpty():not()"
              ":and(${page:le(#{max_pages})})})})}")

COMMON_PARAMETERS: list[dict[str, Any]] = [
    {"name": "api_url", "value": "http://fediscope-api:8000",
     "description": "Base URL of the fediscope scraping API (`fediscope serve-api`), without a trailing slash."},
    {"name": "api_key", "sensitive": True,
     "description": "One of the keys in FEDISCOPE_API_KEY on the API side, without the ':ro' that marks a "
                    "read-only key there (read-only suffices); sent as the X-API-Key header. NiFi reads a '$' in "
                    "it as Expression Language: use a key without '$'."},
    {"name": "instance", "value": "mastodon.social",
     "description": "Domain of the Mastodon instance to collect, as in the lake: host, or host:port "
                    "(an address such as https://Mastodon.Social/ is taken too, as mastodon.social)."},
    {"name": "hashtag", "value": "python", "description": "Hashtag to follow, without '#'."},
    {"name": "max_pages", "value": "10",
     "description": "Pages of 40 statuses walked back per poll at most (the API's next cursor ends a walk sooner)."},
]
HDFS_PARAMETERS: list[dict[str, Any]] = [
    {"name": "hdfs_dir", "value": "/fediscope/lake",
     "description": "Lake root on HDFS (the path part of FEDISCOPE_LAKE=webhdfs://namenode:9870/fediscope/lake)."},
    {"name": "hadoop_config", "value": "/etc/hadoop/conf/core-site.xml,/etc/hadoop/conf/hdfs-site.xml",
     "description": "Comma-separated core-site.xml and hdfs-site.xml of the cluster, readable by NiFi."},
]
FILES_PARAMETERS: list[dict[str, Any]] = [
    {"name": "lake_dir", "value": "/var/lib/fediscope/lake",
     "description": "Lake root on the NiFi host's filesystem (the FEDISCOPE_LAKE path)."},
]


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


class FlowBuilder:
    """Collects processors and connections of one process group and renders the flow definition."""

    def __init__(self, name: str, comments: str) -> None:
        self.name = name
        self.comments = comments
        self.group_id = _id(name, "group")
        self.processors: dict[str, dict[str, Any]] = {}
        self.connections: list[dict[str, Any]] = []
        self.labels: list[dict[str, Any]] = []

    def processor(self, name: str, short_type: str, bundle: tuple[str, str], x: float, y: float,
                  properties: dict[str, str], *, dynamic: dict[str, str] | None = None,
                  sensitive_dynamic: dict[str, str] | None = None, auto_terminate: tuple[str, ...] = (),
                  schedule: str = "0 sec", primary_only: bool = False, comments: str = "",
                  penalty: str = "30 sec") -> str:
        dynamic = dynamic or {}
        sensitive_dynamic = sensitive_dynamic or {}
        props = {**properties, **dynamic, **sensitive_dynamic}
        descriptors = {
            key: {"name": key, "displayName": key, "identifiesControllerService": False,
                  "sensitive": key in sensitive_dynamic, "dynamic": key in dynamic or key in sensitive_dynamic}
            for key in props
        }
        ident = _id(self.name, name)
        self.processors[name] = {
            "identifier": ident,
            "instanceIdentifier": _id(self.name, name, "instance"),
            "name": name,
            "comments": comments,
            "position": {"x": x, "y": y},
            "type": _PKG + short_type,
            "bundle": {"group": bundle[0], "artifact": bundle[1], "version": NIFI_VERSION},
            "properties": props,
            "propertyDescriptors": descriptors,
            "style": {},
            "schedulingPeriod": schedule,
            "schedulingStrategy": "TIMER_DRIVEN",
            "executionNode": "PRIMARY" if primary_only else "ALL",
            "penaltyDuration": penalty,
            "yieldDuration": "1 sec",
            "bulletinLevel": "WARN",
            "runDurationMillis": 0,
            "concurrentlySchedulableTaskCount": 1,
            "autoTerminatedRelationships": sorted(auto_terminate),
            "scheduledState": "ENABLED",
            "retryCount": 10,
            "retriedRelationships": [],
            "backoffMechanism": "PENALIZE_FLOWFILE",
            "maxBackoffPeriod": "10 mins",
            "componentType": "PROCESSOR",
            "groupIdentifier": self.group_id,
        }
        return name

    def connect(self, source: str, destination: str, *relationships: str) -> None:
        def end(name: str) -> dict[str, Any]:
            proc = self.processors[name]
            return {"id": proc["identifier"], "type": "PROCESSOR", "groupId": self.group_id, "name": name,
                    "comments": "", "instanceIdentifier": proc["instanceIdentifier"]}

        key = f"{source}->{destination}:{','.join(relationships)}"
        self.connections.append({
            "identifier": _id(self.name, "connection", key),
            "instanceIdentifier": _id(self.name, "connection", key, "instance"),
            "name": "",
            "source": end(source),
            "destination": end(destination),
            "labelIndex": 0,
            "zIndex": len(self.connections) + 1,
            "selectedRelationships": list(relationships),
            "backPressureObjectThreshold": 10000,
            "backPressureDataSizeThreshold": "1 GB",
            "flowFileExpiration": "0 sec",
            "prioritizers": [],
            "bends": self._self_loop_bends(source) if source == destination else [],
            "loadBalanceStrategy": "DO_NOT_LOAD_BALANCE",
            "partitioningAttribute": "",
            "loadBalanceCompression": "DO_NOT_COMPRESS",
            "componentType": "CONNECTION",
            "groupIdentifier": self.group_id,
        })

    def _self_loop_bends(self, name: str) -> list[dict[str, float]]:
        pos = self.processors[name]["position"]
        return [{"x": pos["x"] + 420, "y": pos["y"] + 20}, {"x": pos["x"] + 420, "y": pos["y"] + 100}]

    def label(self, text: str, x: float, y: float, width: float = 420, height: float = 200) -> None:
        self.labels.append({
            "identifier": _id(self.name, "label", str(len(self.labels))),
            "instanceIdentifier": _id(self.name, "label", str(len(self.labels)), "instance"),
            "label": text, "width": width, "height": height, "position": {"x": x, "y": y},
            "style": {"font-size": "12px"}, "zIndex": 0, "componentType": "LABEL", "groupIdentifier": self.group_id,
        })

    def render(self, parameters: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "flowContents": {
                "identifier": self.group_id,
                "instanceIdentifier": _id(self.name, "group", "instance"),
                "name": self.name,
                "comments": self.comments,
                "position": {"x": 0.0, "y": 0.0},
                "processGroups": [],
                "remoteProcessGroups": [],
                "processors": list(self.processors.values()),
                "inputPorts": [],
                "outputPorts": [],
                "connections": self.connections,
                "labels": self.labels,
                "funnels": [],
                "controllerServices": [],
                "parameterContextName": PARAMETER_CONTEXT,
                "defaultFlowFileExpiration": "0 sec",
                "defaultBackPressureObjectThreshold": 10000,
                "defaultBackPressureDataSizeThreshold": "1 GB",
                "scheduledState": "ENABLED",
                "executionEngine": "INHERITED",
                "maxConcurrentTasks": 1,
                "statelessFlowTimeout": "1 min",
                "flowFileConcurrency": "UNBOUNDED",
                "flowFileOutboundPolicy": "STREAM_WHEN_AVAILABLE",
                "componentType": "PROCESS_GROUP",
            },
            "externalControllerServices": {},
            "parameterContexts": {
                PARAMETER_CONTEXT: {
                    "identifier": _id(self.name, "parameter-context"),
                    "instanceIdentifier": _id(self.name, "parameter-context", "instance"),
                    "name": PARAMETER_CONTEXT,
                    "description": "Where the fediscope scraping API is, what to collect, where the lake is.",
                    "parameters": [_parameter(p) for p in parameters],
                    "inheritedParameterContexts": [],
                    "componentType": "PARAMETER_CONTEXT",
                },
            },
            "flowEncodingVersion": "1.0",
            "parameterProviders": {},
            "latest": False,
        }


def _parameter(spec: dict[str, Any]) -> dict[str, Any]:
    sensitive = bool(spec.get("sensitive"))
    out = {"name": spec["name"], "description": spec["description"], "sensitive": sensitive, "provided": False}
    if not sensitive:  # a sensitive parameter never carries its value in a shared file
        out["value"] = spec["value"]
    return out


def _writer_properties(kind: str, attribute: str) -> tuple[str, tuple[str, str], dict[str, str]]:
    """The writer of one flow kind, writing under the lake root into the relative directory in ``attribute``.

    HDFS forbids ':' in names (``instance=127.0.0.1:8080``): like the Python WebHDFS backend (and Hive), the
    HDFS flow stores it as ``%3A`` (and ``%`` as ``%25``), so both write the same directories.
    """
    if kind == "hdfs":
        return "hadoop.PutHDFS", HADOOP, {
            "Hadoop Configuration Resources": verbatim("hadoop_config"),
            "Directory": verbatim("hdfs_dir") + "/${" + attribute + ":replace('%', '%25'):replace(':', '%3A')}",
            "Conflict Resolution Strategy": "fail",
            "Writing Strategy": "writeAndRename",
        }
    return "standard.PutFile", STANDARD, {
        "Directory": verbatim("lake_dir") + "/${" + attribute + "}",
        "Conflict Resolution Strategy": "fail",
        "Create Missing Directories": "true",
    }


def build(kind: str) -> dict[str, Any]:
    """The flow definition writing to HDFS (``kind="hdfs"``) or to a local directory (``kind="files"``)."""
    name = "mastodon_to_hdfs" if kind == "hdfs" else "mastodon_to_files"
    target = "HDFS" if kind == "hdfs" else "a local directory"
    flow = FlowBuilder(name, f"Pages a hashtag timeline through the fediscope scraping API and lands it in {target}, "
                             "in the lake layout of the Python collector. See nifi_templates/README.md.")
    col_a, col_b, col_c = 0.0, 560.0, 1120.0

    flow.processor("Poll every 5 minutes", "standard.GenerateFlowFile", STANDARD, col_a, 0.0, {
        "File Size": "0B", "Batch Size": "1", "Data Format": "Text", "Unique FlowFiles": "false",
    }, schedule="5 min", primary_only=True,
        comments="One FlowFile per walk; primary node only, so a cluster does not poll once per node.")
    flow.processor("Cursor", "attributes.UpdateAttribute", UPDATE_ATTRIBUTE, col_a, 200.0, {
        "Store State": "Store state locally", "Stateful Variables Initial Value": "0",
        # each page gets its own retry budget (RetryFlowFile's counter would otherwise carry over to the next page)
        "Delete Attributes Expression": r"fetch\.retries.*",
    }, dynamic=CURSOR | WALK_LOCK,
        comments="Paging cursor in attributes; in processor state the checkpoint (newest_id: the next walk's "
                 "since_id), the cursor of a walk that spent max_pages (resume_*) and the walk lock (walk_lock, "
                 "walk_seen).")
    flow.processor("More pages?", "standard.RouteOnAttribute", STANDARD, col_a, 400.0, {
        "Routing Strategy": "Route to Property name",
    }, dynamic={
        "fetch": MORE_PAGES,
    }, auto_terminate=("unmatched",),
        comments="unmatched = the walk is over; its records already went down the split branch.")
    flow.processor("Fetch page", "standard.InvokeHTTP", STANDARD, col_a, 600.0, {
        "HTTP Method": "GET",
        "HTTP URL": FETCH_URL,
        "Connection Timeout": "5 secs",
        "Socket Read Timeout": "60 secs",
        "Request User-Agent": USER_AGENT,
        **RESPONSE_BODY_PROPERTIES,
    }, sensitive_dynamic={"X-API-Key": "#{api_key}"}, auto_terminate=("Original",),
        comments="GET one page from the scraping API. Original = the request FlowFile, replaced by the response. "
                 "A failed request keeps the API's whole answer (up to " + str(RESPONSE_BODY_BYTES) + " bytes) in "
                 "invokehttp.response.body; its answer also goes to Response, where Page answered? drops it.")
    flow.processor("Page answered?", "standard.RouteOnAttribute", STANDARD, col_a - 500.0, 700.0, {
        "Routing Strategy": "Route to Property name",
    }, dynamic={"page": ANSWERED}, auto_terminate=("unmatched",),
        comments="page = a 2xx answer, on to Read cursor; unmatched = the copy of an error answer (Response "
                 "Generation Required), whose request FlowFile goes to Throttled? with the answer.")
    flow.processor("Read cursor", "standard.EvaluateJsonPath", STANDARD, col_a, 800.0, {
        "Destination": "flowfile-attribute", "Return Type": "auto-detect",
        "Path Not Found Behavior": "ignore", "Null Value Representation": "empty string",
    }, dynamic={"next.max_id": "$.next.max_id", "newest.id": "$.prev.min_id", "page.count": "$.count"})
    flow.processor("One record per FlowFile", "standard.SplitJson", STANDARD, col_a, 1000.0, {
        "JsonPath Expression": "$.records",
    }, auto_terminate=("original",), comments="original = the whole page, now split into its records.")
    flow.processor("Read record meta", "standard.EvaluateJsonPath", STANDARD, col_a, 1200.0, {
        "Destination": "flowfile-attribute", "Return Type": "auto-detect",
        "Path Not Found Behavior": "ignore", "Null Value Representation": "empty string",
    }, dynamic={"record.instance": "$.meta.instance", "record.fetched_at": "$.meta.fetched_at"})
    flow.processor("Set lake path", "attributes.UpdateAttribute", UPDATE_ATTRIBUTE, col_a, 1400.0, {
        "Store State": "Do not store state",
    }, dynamic={"lake.partition": LAKE_PARTITION, "filename": "${uuid}.json"},
        comments="raw/mastodon/statuses/instance=<domain>/dt=<fetch date, UTC>: fediscope.lake.layout.partition_dir")
    flow.processor("Merge into batch files", "standard.MergeContent", STANDARD, col_a, 1600.0, {
        "Merge Strategy": "Bin-Packing Algorithm",
        "Merge Format": "Binary Concatenation",
        "Attribute Strategy": "Keep Only Common Attributes",
        "Correlation Attribute Name": "lake.partition",
        # a bin waits for its 5000 records or its Max Bin Age: with a smaller minimum, BinFiles hands a bin over
        # as soon as its input queue is empty, so each 40-record page became a batch file (HDFS small files)
        "Minimum Number of Entries": str(MERGE_RECORDS),
        "Maximum Number of Entries": str(MERGE_RECORDS),
        "Maximum Number of Bins": "20",
        "Max Bin Age": MERGE_MAX_AGE,
        "Delimiter Strategy": "Text",
        "Demarcator": "\n",
        "Footer": "\n",
    }, auto_terminate=("original",),
        comments="One JSON object per line, one file per partition; original = the records now in the batch.")
    flow.processor("Name batch file", "attributes.UpdateAttribute", UPDATE_ATTRIBUTE, col_a, 1800.0, {
        "Store State": "Do not store state",
    }, dynamic={"filename": BATCH_ID + ".jsonl"}, comments="<UTC timestamp>-<8 hex>.jsonl like the collector.")
    writer_type, writer_bundle, writer_props = _writer_properties(kind, "lake.partition")
    writer = "Land in HDFS" if kind == "hdfs" else "Land in lake directory"
    flow.processor(writer, writer_type, writer_bundle, col_a, 2000.0, writer_props, auto_terminate=("success",),
                   comments="Writes .<name> then renames it: a batch appears whole or not at all.")

    flow.processor("Retry fetch", "standard.RetryFlowFile", STANDARD, col_b, 600.0, {
        "Retry Attribute": "fetch.retries", "Maximum Retries": "5", "Penalize Retries": "true",
    }, dynamic={"quarantine.reason": "fetch"}, penalty="1 min",
        comments="5xx (but those Throttled? quarantines at once), 429 and connection errors: back to Fetch "
                 "page after a penalty, then quarantine.")
    flow.processor("Retry landing", "standard.RetryFlowFile", STANDARD, col_b, 2000.0, {
        "Retry Attribute": "landing.retries", "Maximum Retries": "10", "Penalize Retries": "true",
    }, dynamic={"quarantine.reason": "landing"}, penalty="1 min")
    flow.processor("Throttled?", "standard.RouteOnAttribute", STANDARD, col_b, 800.0, {
        "Routing Strategy": "Route to Property name",
    }, dynamic=RETRIED,
        comments="Which failed requests are retried: a 429 (the API's rate limit or the instance's), which InvokeHTTP "
                 "does not send to Retry, and the 5xx answers but those a retry cannot help (" +
                 ", ".join(PERMANENT_ERRORS) + "); these and the other 4xx (wrong key, unknown tag, instance not "
                 "allowed) are quarantined at once.")
    flow.processor("Describe failed request", "standard.ReplaceText", STANDARD, col_c, 600.0, {
        "Replacement Strategy": "Always Replace", "Evaluation Mode": "Entire text",
        "Replacement Value": FAILED_REQUEST,
    }, comments="The request FlowFile carries no data of its own: quarantine a JSON description of the failure.")
    flow.processor("Name quarantine file", "attributes.UpdateAttribute", UPDATE_ATTRIBUTE, col_c, 1200.0, {
        "Store State": "Do not store state",
    }, dynamic={"quarantine.dir": QUARANTINE_DIR, "filename": QUARANTINE_NAME},
        comments="quarantine/instance=<domain>/dt=<day>/nifi_<reason>-<batch id>.json "
                 "(fediscope.lake.layout.quarantine_path)")
    q_type, q_bundle, q_props = _writer_properties(kind, "quarantine.dir")
    flow.processor("Quarantine", q_type, q_bundle, col_c, 1400.0, q_props, auto_terminate=("success",),
                   penalty="5 min", comments="failure loops back here: nothing is dropped while the target is down.")

    flow.connect("Poll every 5 minutes", "Cursor", "success")
    flow.connect("Cursor", "More pages?", "success")
    flow.connect("Cursor", "Cursor", "set state fail")
    flow.connect("More pages?", "Fetch page", "fetch")
    flow.connect("Fetch page", "Page answered?", "Response")
    flow.connect("Page answered?", "Read cursor", "page")
    flow.connect("Fetch page", "Retry fetch", "Failure")
    flow.connect("Fetch page", "Throttled?", "Retry", "No Retry")
    flow.connect("Throttled?", "Retry fetch", "throttled", "transient")
    flow.connect("Throttled?", "Describe failed request", "unmatched")
    flow.connect("Retry fetch", "Fetch page", "retry")
    flow.connect("Retry fetch", "Describe failed request", "retries_exceeded", "failure")
    flow.connect("Read cursor", "Cursor", "matched")
    flow.connect("Read cursor", "One record per FlowFile", "matched")
    flow.connect("Read cursor", "Name quarantine file", "unmatched", "failure")
    flow.connect("One record per FlowFile", "Read record meta", "split")
    flow.connect("One record per FlowFile", "Name quarantine file", "failure")
    flow.connect("Read record meta", "Set lake path", "matched")
    flow.connect("Read record meta", "Name quarantine file", "unmatched", "failure")
    flow.connect("Set lake path", "Merge into batch files", "success")
    flow.connect("Merge into batch files", "Name batch file", "merged")
    flow.connect("Merge into batch files", "Name quarantine file", "failure")
    flow.connect("Name batch file", writer, "success")
    flow.connect(writer, "Retry landing", "failure")
    flow.connect("Retry landing", writer, "retry")
    flow.connect("Retry landing", "Name quarantine file", "retries_exceeded", "failure")
    flow.connect("Describe failed request", "Name quarantine file", "success", "failure")
    flow.connect("Name quarantine file", "Quarantine", "success")
    flow.connect("Quarantine", "Quarantine", "failure")

    flow.label("fediscope: Mastodon hashtag timeline -> scraping API -> lake (raw JSON Lines).\n"
               "Set the parameters (Parameter Contexts > " + PARAMETER_CONTEXT + "), api_key first, then start.\n"
               "Failed requests and writes are retried, then written under quarantine/.", col_b, -40.0)
    parameters = COMMON_PARAMETERS + (HDFS_PARAMETERS if kind == "hdfs" else FILES_PARAMETERS)
    return flow.render(parameters)


FLOWS = {"mastodon_to_hdfs.json": "hdfs", "mastodon_to_files.json": "files"}


def render_text(kind: str) -> str:
    return json.dumps(build(kind), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    """Write the flow files; with ``--check``, fail when a committed file differs from what would be written."""
    parser = argparse.ArgumentParser(
        prog="python nifi_templates/build_flows.py",
        description=f"Write the NiFi flow definitions ({', '.join(FLOWS)}) beside this script.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a committed flow file differs from what would be written")
    check = parser.parse_args(argv).check
    stale = []
    for filename, kind in FLOWS.items():
        path = HERE / filename
        text = render_text(kind)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(filename)
        else:
            path.write_text(text, encoding="utf-8")  # NiFi reads flow definitions as UTF-8, whatever the locale
    if stale:
        print(f"out of date: {', '.join(stale)}; run python nifi_templates/build_flows.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
