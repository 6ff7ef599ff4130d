"""das serve: the JSON API (OpenAPI at /openapi.json) and the map-first web app, from one process.

The server logs in as das_api, which has no rights of its own: each request runs in the group role of the user
whose bearer token it checked (das.postgis.serving), so PostgreSQL's grants and audited functions decide.
"""

from das_api.app import create_app

__all__ = ["create_app"]
