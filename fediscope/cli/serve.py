"""``fediscope serve-api``: serve the scraping API with waitress (a production WSGI server, not Flask's).

waitress is pure Python, runs on every platform, and buffers requests and responses in its own threads, so a
slow client cannot tie up the app. The API binds to 127.0.0.1 by default; put it behind a reverse proxy (TLS)
before exposing it, and keep ``FEDISCOPE_INSTANCES`` to the instances you mean to collect from.
"""

from __future__ import annotations

import logging

import click

from fediscope.cli.common import say, settings_from_context
from fediscope.config import Settings

log = logging.getLogger(__name__)


@click.command("serve-api")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 listens on every interface; a name with several addresses, "
                   "such as localhost or *, listens on each).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port (0 picks a free one).")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Worker threads: requests served at the same time.")
def serve_api(host: str, port: int, threads: int) -> None:
    """Serve the API (GET /v1/..., /openapi.json, /health) until interrupted.

    Needs FEDISCOPE_API_KEY (clients send it as X-API-Key), FEDISCOPE_PSEUDONYM_KEY (or FEDISCOPE_PRIVACY=off)
    and the allowlist FEDISCOPE_INSTANCES (a bare host is fetched over https: give http://127.0.0.1:PORT for a
    server without TLS). Set FEDISCOPE_ALLOW_PRIVATE_ADDRESSES=true to fetch a local instance such as
    `fediscope sample-instance`. The results routes (/v1/metrics, /v1/analyses) read
    FEDISCOPE_STORE.
    """
    from api import create_app
    from api.app import make_server
    from api.guard import allowed_base_urls
    from fediscope.errors import ConfigError
    from fediscope.lake.backend import open_lake
    from fediscope.lake.key_check import require_pseudonym_key

    settings = settings_from_context()
    require_pseudonym_key(settings, open_lake(settings.lake))  # a lake landed with a key asks for it, not a new one
    app = create_app(settings)
    _check_key(settings)
    _check_metrics(settings)
    try:
        server = make_server(app, host=host, port=port, threads=threads, trusted_proxy=settings.api_trusted_proxy)
    except (OSError, ValueError) as exc:  # port taken, no permission, a host that does not resolve here
        # waitress's own reasons end in a full stop ("Invalid host/port specified."): the sentence goes on
        reason = (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)).rstrip(".")
        raise ConfigError(f"cannot listen on {host}:{port}: {reason}; pick another --port (or --port 0 for a "
                          "free one) or a --host of this machine") from None
    # a host name with several addresses (localhost as 127.0.0.1 and ::1, or "*") gives one socket per address:
    # waitress's MultiSocketServer then lists them all and has no effective_host of its own
    listening = getattr(server, "effective_listen", None) or [(server.effective_host, server.effective_port)]
    urls = " and ".join(f"http://{f'[{h}]' if ':' in str(h) else h}:{p}/" for h, p in listening)
    allowed = ", ".join(sorted(allowed_base_urls(settings).values())) or "none (set FEDISCOPE_INSTANCES)"
    say(f"fediscope API on {urls} (OpenAPI at /openapi.json); instances allowed: {allowed}; Ctrl-C stops")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def _check_metrics(settings: Settings) -> None:
    """Read every metric SQL file now, the built-in ones and those of ``FEDISCOPE_METRICS_DIR``: one that is not a
    metric (a user's own, without its ``-- key:`` line, say) stops the start with one line naming the file, rather
    than the results routes answering 500 ``metric_definition_error`` to every request. The registry is read once
    (:func:`load_metrics` keeps it): files changed later are read at the next start."""
    from fediscope.engine.metrics import load_metrics
    from fediscope.errors import MetricFileError

    try:
        load_metrics(own_dir=settings.metrics_dir)
    except MetricFileError as exc:
        raise MetricFileError(f"{exc}; the API was not started (its results routes serve every metric)") from None


def _check_key(settings: Settings) -> None:
    """The records the API serves are lake records (NiFi lands them): like `fediscope collect`, refuse to start
    with a pseudonym key other than the one the lake was landed with, record the key's check in a lake that holds
    none, and warn about a weak key (:mod:`fediscope.lake.key_check`). The API creates no lake: a lake not there
    yet is not checked here. A lake that cannot be read now is not compared (logged). Requests check again when
    they read the suppression list (every 30 s, :mod:`api.upstream`): 503 while the lake cannot be read, 503
    ``key_mismatch`` once it was landed with another key; a check there but damaged stops the start."""
    from fediscope.errors import LakeError
    from fediscope.lake.backend import open_lake
    from fediscope.lake.key_check import DamagedKeyCheck, check_landing_key, warn_if_weak_key

    warn_if_weak_key(settings)
    lake = open_lake(settings.lake)
    try:
        if lake.is_dir(""):
            check_landing_key(settings, lake, warn=False,
                              outcome="the API was not started (what it serves is landed into this lake)")
    except DamagedKeyCheck:  # as collect and stream: a check that is there but unreadable stops the start
        raise
    except LakeError as exc:  # not KeyMismatchError, a ConfigError: that one stops the start
        log.warning("the pseudonym key could not be compared with the lake's key check: %s", exc)
