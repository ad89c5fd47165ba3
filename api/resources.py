"""The flask-restful resources. Thin on purpose: validate, fetch through :mod:`api.upstream`, shape the answer.

A records route answers one page::

    {"records": [<lake envelope>, ...], "count": 20, "next": {"max_id": "1150…"}, "prev": {"min_id": "1151…"},
     "instance": "mastodon.social", "source": "tag:python", "skipped": 1, "opted_out": 1, "quarantined": 0}

and the same cursors as a ``Link`` header (``rel="next"`` walks back to older items, ``rel="prev"`` forward
to newer ones), so a NiFi InvokeHTTP loop can page without parsing the body. ``rel="next"`` keeps the request's
``since_id`` (Mastodon's own ``Link`` drops it): a walk down to a checkpoint by the header ends at the checkpoint
instead of going on to the oldest status. ``records`` are exactly what
the collector would land for that page (same fetch and privacy code); ``skipped`` counts entities the privacy
policy dropped (opt-outs, erasures, non-public statuses), ``opted_out`` those of them whose own account opted out
(as ``fediscope collect`` counts them: a number, never which accounts), and ``quarantined`` those that were
malformed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, current_app, jsonify, request
from flask_restful import Resource
from werkzeug.urls import iri_to_uri

from api.params import PageQuery, account_source, parse_no_query, parse_query, tag_source
from fediscope.sources.spec import SourceRef


def _state() -> Any:
    return current_app.extensions["fediscope_api"]


def _link(query: PageQuery, extra: dict[str, str], rel: str) -> str:
    """One ``Link`` header entry. ``request.base_url`` is an IRI (werkzeug decodes the path: a hashtag's 日本
    or é as such), and a header holds a URI: ASCII, percent-encoded."""
    params: dict[str, str] = {"instance": query.instance, "limit": str(query.limit)}
    if query.local:
        params["local"] = "true"
    params.update(extra)
    return f'<{iri_to_uri(request.base_url)}?{urlencode(params)}>; rel="{rel}"'


class Health(Resource):
    """Liveness: answers without a key and without touching any instance."""

    def get(self) -> Response:
        parse_no_query(request.args)
        return jsonify({"status": "ok"})


class OpenApi(Resource):
    """The OpenAPI 3 document of this API (public: it holds no secret)."""

    def get(self) -> Response:
        parse_no_query(request.args)
        return jsonify(_state().openapi)


class RecordsResource(Resource):
    """One page of one source, landed as the collector lands it."""

    #: route-specific query parameters besides ``instance`` and the paging ones: ``local``, ``offset``
    flags: tuple[str, ...] = ()

    def source(self, query: PageQuery, **path: str) -> SourceRef:
        raise NotImplementedError

    def get(self, **path: str) -> Response:
        state = _state()
        query = parse_query(request.args, extra=self.flags, default_limit=state.settings.page_limit)
        source = self.source(query, **path)
        result = state.upstream.fetch(source, query)
        body = {
            "records": result.records,
            "count": len(result.records),
            "next": ({"max_id": result.next_max_id} if result.next_max_id else
                     {"offset": result.next_offset} if result.next_offset is not None else None),
            "prev": {"min_id": result.prev_min_id} if result.prev_min_id else None,
            "instance": query.domain,
            "source": source.name,
            "skipped": result.skipped,
            "opted_out": result.opted_out,
            "quarantined": result.quarantined,
        }
        response = jsonify(body)
        links = []
        if result.next_max_id:
            # the walk down keeps the request's lower bound: followed by its Link, a walk to a checkpoint ends there
            bound = {"since_id": query.since_id} if query.since_id else {}
            links.append(_link(query, {**bound, "max_id": result.next_max_id}, "next"))
        elif result.next_offset is not None:
            links.append(_link(query, {"offset": str(result.next_offset)}, "next"))
        if result.prev_min_id:
            links.append(_link(query, {"min_id": result.prev_min_id}, "prev"))
        if links:
            response.headers["Link"] = ", ".join(links)
        return response


class PublicTimeline(RecordsResource):
    flags = ("local",)

    def source(self, query: PageQuery, **path: str) -> SourceRef:
        return SourceRef("local") if query.local else SourceRef("public")


class TagTimeline(RecordsResource):
    def source(self, query: PageQuery, **path: str) -> SourceRef:
        return tag_source(path["tag"])


class AccountStatuses(RecordsResource):
    def source(self, query: PageQuery, **path: str) -> SourceRef:
        return account_source(path["acct"])


class InstanceInfo(RecordsResource):
    def source(self, query: PageQuery, **path: str) -> SourceRef:
        return SourceRef("instance")


class InstanceActivity(RecordsResource):
    def source(self, query: PageQuery, **path: str) -> SourceRef:
        return SourceRef("instance_activity")


class TrendingTags(RecordsResource):
    flags = ("offset",)

    def source(self, query: PageQuery, **path: str) -> SourceRef:
        return SourceRef("trends_tags")
