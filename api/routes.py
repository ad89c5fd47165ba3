"""The route table: every route the API serves, once. The factory registers it; :mod:`api.openapi` documents it.

Keeping both on one table is what lets the test "every Flask route is documented and vice versa" stay true.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_restful import Resource

from api import resources, results


@dataclass(frozen=True)
class Route:
    path: str                       # Flask rule, e.g. /v1/timelines/tag/<tag>
    resource: type[Resource]
    endpoint: str
    summary: str
    description: str
    records: bool = True            # a records route (instance + paging) or a plain one (health, openapi)
    public: bool = False            # reachable without an API key
    flags: tuple[str, ...] = ()     # extra query parameters of the route: local, offset
    path_params: tuple[str, ...] = ()
    results: tuple[str, ...] | None = None  # a results route (api.results): the query parameters it takes

    @property
    def openapi_path(self) -> str:
        """``/v1/timelines/tag/<tag>`` → ``/v1/timelines/tag/{tag}``."""
        out = self.path
        for name in self.path_params:
            out = out.replace(f"<{name}>", "{" + name + "}")
        return out


ROUTES: tuple[Route, ...] = (
    Route("/health", resources.Health, "health", "Liveness check",
          "Answers 200 when the server runs. Needs no API key and contacts no instance.",
          records=False, public=True),
    Route("/openapi.json", resources.OpenApi, "openapi", "This OpenAPI document",
          "The OpenAPI 3 description of every route. Needs no API key.", records=False, public=True),
    Route("/v1/timelines/public", resources.PublicTimeline, "timeline_public", "Public timeline",
          "One page of the instance's federated public timeline, or its local timeline with local=true "
          "(Mastodon GET /api/v1/timelines/public).", flags=("local",)),
    Route("/v1/timelines/tag/<tag>", resources.TagTimeline, "timeline_tag", "Hashtag timeline",
          "One page of the public statuses with a hashtag (Mastodon GET /api/v1/timelines/tag/:hashtag).",
          path_params=("tag",)),
    Route("/v1/accounts/<acct>/statuses", resources.AccountStatuses, "account_statuses", "Account statuses",
          "One page of an account's public statuses; the account is looked up by user or user@domain "
          "(Mastodon GET /api/v1/accounts/lookup, then /api/v1/accounts/:id/statuses).",
          path_params=("acct",)),
    Route("/v1/instance", resources.InstanceInfo, "instance", "Instance information",
          "The instance's description as one record (Mastodon GET /api/v2/instance, v1 fallback). "
          "Paging parameters are accepted and validated but a snapshot has a single page."),
    Route("/v1/instance/activity", resources.InstanceActivity, "instance_activity", "Instance weekly activity",
          "Weekly statuses, logins and registrations, one record per week "
          "(Mastodon GET /api/v1/instance/activity). A snapshot: a single page, of every week the instance "
          "sends (Mastodon: 12) whatever limit says."),
    Route("/v1/trends/tags", resources.TrendingTags, "trends_tags", "Trending hashtags",
          "One page of the instance's trending hashtags, one record per tag (Mastodon GET /api/v1/trends/tags): "
          "at most limit tags (Mastodon serves at most 20) from offset; next.offset starts the next page "
          "(Mastodon 3.0-3.4, GET /api/v1/trends: one page, next is null).", flags=("offset",)),
    Route("/v1/analyses", results.Analyses, "analyses", "Analyses of the stored metrics",
          "Every analysis `fediscope report` runs, the metric it reads, and whether the store holds that metric.",
          records=False, results=()),
    Route("/v1/analyses/<name>", results.OneAnalysis, "analysis", "One analysis",
          "One analysis of the stored metrics, as `fediscope report --format json` gives it: title, question, "
          "columns, rows and headline numbers. Contacts no instance.",
          records=False, results=("n",), path_params=("name",)),
    Route("/v1/metrics", results.Metrics, "metrics", "Stored metrics",
          "Every metric (one SQL file each, of spark_jobs/sql/ or FEDISCOPE_METRICS_DIR), and every other metric "
          "the store holds (sql_file false: its file is gone): its question, key, rank and prefix columns, and how "
          "many rows the store holds.", records=False, results=()),
    Route("/v1/metrics/<name>", results.MetricRows, "metric_rows", "A metric's rows",
          "A metric's first rows by its rank column, or with prefix the rows whose prefix column equals a value, "
          "in key order, as the store holds them (a metric whose SQL file is gone by the key, rank and prefix the "
          "store recorded); one page of them: the next page is the same request with after set to the answer's "
          "next.after (also its Link rel=\"next\"), until next is null.",
          records=False, results=("prefix", "limit", "after"), path_params=("name",)),
)
