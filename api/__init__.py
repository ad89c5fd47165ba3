"""The fediscope API (flask-restful): fetch public Mastodon data on request, as lake records
(:mod:`api.resources`), and serve the stored metrics and analyses (:mod:`api.results`).

``create_app(settings=None, test_config=None)`` builds the app; ``fediscope serve-api`` serves it with
waitress. See :mod:`api.app` for the request pipeline and :mod:`api.openapi` for the document.
"""

from api.app import create_app

__all__ = ["create_app"]
