"""The FastAPI application: routes, authentication, roles, and errors that name their fix.

Roles (each is the user's PostgreSQL group role, which decides in the end):

- investigator: flags, their evidence (audited), triage, and the audited searches; the live feed.
- analyst: cameras, crimes, hotspots, boundaries.
- engineer: cameras, crimes, boundaries, ingest runs, quality results, quarantine, notifications.
- auditor: nothing here (the audit log is read in SQL or ``das audit``).
"""

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import psycopg2
from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from das.config import Settings, detector_version
from das.errors import DasError
from das.postgis import serving
from das_api import cursors
from das_api.auth import TokenCache
from das_api.database import Database, Principal
from das_api.geojson import collection, feature, jsonable, point, point_feature, shape_feature
from das_api.live import LiveFlags
from schemas.governance import TRIAGE_STATUSES
from schemas.tables import FLAG_STATUSES, FLAG_TYPES

log = logging.getLogger("das.api")

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_PAGE = 1000
MAX_SEARCH_WINDOW = timedelta(days=31)  # a search covers at most a month: proportionate, and bounded
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)

INVESTIGATOR, ANALYST, ENGINEER = ("investigator",), ("analyst", "investigator"), ("engineer",)
SEES_CAMERAS = ("engineer", "analyst", "investigator")
EVERY_ROLE = ("engineer", "analyst", "investigator", "auditor")

# SQLSTATEs the database raises for the caller's mistakes, and what the API answers.
CLIENT_ERRORS = {
    "22023": 422,  # invalid_parameter_value (das.require_purpose, triage, stakeout checks)
    "22P02": 422,  # invalid_text_representation
    "22007": 422,  # invalid_datetime_format
    "22008": 422,  # datetime_field_overflow
    "22003": 422,  # numeric_value_out_of_range
    "42501": 403,  # insufficient_privilege
    "DA404": 404,
    "DA409": 409,
    "57014": 503,  # statement_timeout: narrow the search
}

DOCS_COOKIE = "das_docs"


class DocsPass:
    """A signed, expiring cookie for engineers' Data Docs: ``name|expiry|hmac`` under a key of this process."""

    LIFETIME_S = 8 * 3600.0

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def _sign(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def issue(self, name: str) -> str:
        text = f"{name}|{int(time.time() + self.LIFETIME_S)}"
        return f"{text}|{self._sign(text)}"

    def holder(self, cookie: str | None) -> str | None:
        """The engineer's name, or None for a missing, forged or expired cookie."""
        try:
            name, expiry, signature = (cookie or "").split("|")
            fresh = int(expiry) > time.time()
        except ValueError:
            return None
        return name if fresh and hmac.compare_digest(signature, self._sign(f"{name}|{expiry}")) else None


bearer = HTTPBearer(auto_error=False, description="An API token from `das users add NAME --role ROLE`")


def utc(moment: datetime | None) -> datetime | None:
    """Naive times are UTC; every time is checked to be in a sane range."""
    if moment is None:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not EARLIEST <= moment < LATEST:
        raise HTTPException(422, f"time {moment.isoformat()} is out of range: use a time between 2000 and 2100")
    return moment


def window(t_from: datetime, t_to: datetime) -> tuple[datetime, datetime]:
    start, end = utc(t_from), utc(t_to)
    assert start is not None and end is not None
    if end <= start:
        raise HTTPException(422, "`to` must be after `from`")
    if end - start > MAX_SEARCH_WINDOW:
        raise HTTPException(422, f"a search covers at most {MAX_SEARCH_WINDOW.days} days: narrow `from`..`to`")
    return start, end


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``min_lon,min_lat,max_lon,max_lat`` in WGS84."""
    if text is None or text == "":
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
    except ValueError:
        raise HTTPException(422, "bbox must be four numbers: min_lon,min_lat,max_lon,max_lat") from None
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise HTTPException(422, "bbox must be min_lon,min_lat,max_lon,max_lat with min < max, within WGS84")
    return x0, y0, x1, y1


def page(rows: list[dict[str, Any]], limit: int, kind: str, key: Callable[[dict[str, Any]], list[Any]]) -> tuple:
    """The page's rows and the cursor of the next page (None on the last page)."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, cursors.encode(kind, key(rows[-1]))


def decode_cursor(kind: str, cursor: str | None, types: tuple[type, ...]) -> tuple[Any, ...] | None:
    try:
        return cursors.decode(kind, cursor, types)
    except cursors.CursorError as exc:
        raise HTTPException(400, str(exc)) from exc


Purpose = Annotated[
    str,
    Query(min_length=10, max_length=500, description="Why you search, in your words (at least 10 characters)"),
]
CaseRef = Annotated[str | None, Query(max_length=100, description="The case or incident reference")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Rows per page")]
Cursor = Annotated[str | None, Query(max_length=2000, description="next_cursor of the previous page")]


class Place(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    radius_m: float = Field(gt=0, le=5000)
    from_: datetime = Field(alias="from")
    to: datetime

    @model_validator(mode="after")
    def _window(self) -> "Place":
        start, end = utc(self.from_), utc(self.to)
        assert start is not None and end is not None
        if end <= start:
            raise ValueError("a place's `to` must be after its `from`")
        if end - start > timedelta(days=7):
            raise ValueError("a stakeout place covers at most 7 days")
        self.from_, self.to = start, end
        return self


class StakeoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    places: list[Place] = Field(min_length=2, max_length=5)
    min_places: int | None = Field(default=None, ge=1, le=5, description="Default: all of the places")
    purpose: str = Field(min_length=10, max_length=500)
    case_ref: str | None = Field(default=None, max_length=100)
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _min_places(self) -> "StakeoutRequest":
        if self.min_places is not None and self.min_places > len(self.places):
            raise ValueError(f"min_places ({self.min_places}) is more than the {len(self.places)} places given")
        return self


class TriageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["acknowledged", "dismissed", "escalated"]
    note: str | None = Field(default=None, max_length=2000)
    reason: str | None = Field(default=None, max_length=500, description="Required to dismiss")
    version: int = Field(ge=0, le=1_000_000, description="The flag's version you saw (0 before any triage)")

    @field_validator("note", "reason")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("text may not contain NUL characters")
        return value


assert set(TriageRequest.model_fields["status"].annotation.__args__) == set(TRIAGE_STATUSES)  # type: ignore[union-attr]


def create_app(settings: Settings, *, notifier: bool = False) -> FastAPI:
    """The application; ``notifier`` also runs the flag notifier in this process (as the pipeline's role)."""
    database = Database(settings)
    tokens = TokenCache(database)
    docs_pass = DocsPass()
    live = LiveFlags(settings.api_libpq_dsn)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        live.start()
        stop = threading.Event()
        thread = None
        if notifier:
            from jobs.flag_notifier import run_forever

            thread = threading.Thread(target=run_forever, args=(settings, stop), name="das-notifier", daemon=True)
            thread.start()
        try:
            yield
        finally:
            stop.set()
            live.stop()
            if thread:
                thread.join(timeout=10)
            database.close()

    app = FastAPI(
        title="das",
        version="1",
        description=(
            "The domain-awareness data platform's API. Authenticate with `Authorization: Bearer <token>` from "
            "`das users add`. Every search and every view of a flag's evidence is audited with its `purpose`. "
            "Lists are pages: pass `next_cursor` back as `cursor`. Responses with geometry are GeoJSON (WGS84)."
        ),
        lifespan=lifespan,
    )

    def user(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                401, "missing token: send Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"}
            )
        principal = tokens.principal(credentials.credentials)
        if principal is None:
            raise HTTPException(401, "unknown or revoked token", {"WWW-Authenticate": "Bearer"})
        request.state.user = principal
        return principal

    def role(*allowed: str) -> Callable[..., Principal]:
        def check(principal: Annotated[Principal, Depends(user)]) -> Principal:
            if principal.role not in allowed:
                raise HTTPException(403, f"the {principal.role} role may not do this; it needs {' or '.join(allowed)}")
            return principal

        return check

    @app.middleware("http")
    async def reject_nul(request: Request, call_next: Callable[[Request], Any]) -> Any:
        # PostgreSQL text cannot hold NUL, so refuse it here as bad input rather than fail in the driver.
        named = [name for name, value in request.query_params.multi_items() if "\x00" in name + value]
        if "\x00" in request.url.path:
            named.append("path")
        if named:
            return JSONResponse(
                {"detail": f"{', '.join(sorted(set(named)))}: NUL characters are not allowed; remove them"},
                status_code=422,
            )
        return await call_next(request)

    @app.exception_handler(psycopg2.Error)
    async def database_error(request: Request, exc: psycopg2.Error) -> JSONResponse:
        status = CLIENT_ERRORS.get(exc.pgcode or "")
        if status is None:
            log.error("database error on %s %s: %s", request.method, request.url.path, exc)
            return JSONResponse({"detail": "the database failed this request; it is logged"}, status_code=500)
        message = (exc.diag.message_primary or str(exc)).strip()
        if exc.diag.message_hint:
            message += f" ({exc.diag.message_hint})"
        if status == 503:
            message = "the search took too long: narrow the place, radius or time window"
        return JSONResponse({"detail": message}, status_code=status)

    @app.exception_handler(DasError)
    async def das_error(request: Request, exc: DasError) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
            problems.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
        return JSONResponse({"detail": "; ".join(problems) or "invalid request"}, status_code=422)

    def rows(principal: Principal, run: Callable[[Any], Any]) -> Any:
        with database.as_user(principal) as cur:
            return run(cur)

    # ---- open ----

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, Any]:
        """Liveness and the database: open, no token."""
        try:
            with database.as_server() as cur:
                cur.execute("SELECT 1")
            return {"ok": True, "database": "ok"}
        except (DasError, psycopg2.Error) as exc:
            return JSONResponse({"ok": False, "database": str(exc).splitlines()[0]}, status_code=503)  # type: ignore[return-value]

    @app.get("/api/me", tags=["service"])
    def me(principal: Annotated[Principal, Depends(user)], response: Response) -> dict[str, str]:
        """Who the token belongs to, and their role (an engineer also gets the cookie that opens Data Docs)."""
        if principal.role == "engineer":
            response.set_cookie(DOCS_COOKIE, docs_pass.issue(principal.name), max_age=int(DocsPass.LIFETIME_S),
                                path="/data-docs", httponly=True, samesite="strict")  # fmt: skip
        return {"name": principal.name, "role": principal.role}

    # ---- flags ----

    @app.get("/api/flags", tags=["flags"])
    def list_flags(
        principal: Annotated[Principal, Depends(role(*INVESTIGATOR))],
        type: Annotated[Literal[FLAG_TYPES] | None, Query(description="Flag type")] = None,  # type: ignore[valid-type]
        min_score: Annotated[float, Query(ge=0, le=1)] = 0.0,
        status: Annotated[Literal[FLAG_STATUSES] | None, Query()] = None,  # type: ignore[valid-type]
        since: Annotated[datetime | None, Query(description="Window ends at or after")] = None,
        until: Annotated[datetime | None, Query(description="Window starts before")] = None,
        bbox: Annotated[str | None, Query(max_length=200, description="min_lon,min_lat,max_lon,max_lat")] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        """Flags strongest first, as GeoJSON points, each with its status and triage version (no evidence)."""
        query = serving.FlagQuery(
            flag_type=type,
            status=status,
            min_score=min_score,
            since=utc(since),
            until=utc(until),
            bbox=parse_bbox(bbox),
            limit=limit,
            after=decode_cursor("flags", cursor, (float, str, str)),  # type: ignore[arg-type]
        )
        found, next_cursor = page(
            rows(principal, lambda cur: serving.flags_page(cur, query)),
            limit,
            "flags",
            lambda r: [r["score"], r["flag_type"], r["flag_id"]],
        )
        return collection((point_feature(r, "flag_id") for r in found), next_cursor=next_cursor)

    @app.get("/api/flags/{flag_id}", tags=["flags"])
    def get_flag(
        principal: Annotated[Principal, Depends(role(*INVESTIGATOR))],
        flag_id: Annotated[str, PathParam(min_length=1, max_length=100)],
        purpose: Purpose,
        case_ref: CaseRef = None,
    ) -> dict[str, Any]:
        """One flag with its evidence (audited with your purpose), its triage history and current version."""
        found = rows(principal, lambda cur: serving.flag_with_evidence(cur, flag_id, purpose, case_ref))
        if found is None:
            raise HTTPException(404, f"no flag {flag_id!r}: list them with GET /api/flags")
        evidence = found.pop("evidence")
        props = {k: v for k, v in found.items() if k not in ("longitude", "latitude")}
        props["parameters"] = detector_parameters(settings, found["flag_type"], found["detector_version"])
        props["evidence"] = collection(point_feature(e) for e in evidence)
        return feature(point(found.get("longitude"), found.get("latitude")), props, flag_id)

    @app.post("/api/flags/{flag_id}/triage", tags=["flags"])
    def triage_flag(
        principal: Annotated[Principal, Depends(role(*INVESTIGATOR))],
        flag_id: Annotated[str, PathParam(min_length=1, max_length=100)],
        change: Annotated[TriageRequest, Body()],
    ) -> dict[str, Any]:
        """Acknowledge, dismiss (with a reason) or escalate, naming the version you saw: a stale version gets 409
        and changes nothing. Returns the new version and the flag's whole triage history."""

        def run(cur: Any) -> dict[str, Any]:
            version = serving.triage(cur, flag_id, change.status, change.note, change.reason, change.version)
            return {"flag_id": flag_id, "status": change.status, "version": version,
                    "history": jsonable(serving.triage_history(cur, flag_id))}  # fmt: skip

        return rows(principal, run)  # type: ignore[no-any-return]

    # ---- searches (audited) ----

    @app.get("/api/plates/{plate}/history", tags=["searches"])
    def plate_history(
        principal: Annotated[Principal, Depends(role(*INVESTIGATOR))],
        plate: Annotated[str, PathParam(min_length=2, max_length=16, pattern=r"^[A-Za-z0-9*? ]+$")],
        from_: Annotated[datetime, Query(alias="from")],
        to: Annotated[datetime, Query()],
        purpose: Purpose,
        case_ref: CaseRef = None,
        limit: Limit = 500,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        """Reads of a plate, oldest first; ``*`` matches any run of characters and ``?`` one. Audited."""
        if sum(c.isalnum() for c in plate) < 2:
            raise HTTPException(422, "a plate pattern needs at least two letters or digits besides wildcards")
        start, end = window(from_, to)
        after = decode_cursor("plate", cursor, (datetime, str))
        found, next_cursor = page(
            rows(
                principal,
                lambda cur: serving.plate_reads_page(cur, plate, start, end, purpose, case_ref, limit, after),  # type: ignore[arg-type]
            ),
            limit,
            "plate",
            lambda r: [r["read_at"], r["read_id"]],
        )
        return collection((point_feature(r, "read_id") for r in found), next_cursor=next_cursor)

    @app.get("/api/search/video", tags=["searches"])
    def search_video(
        principal: Annotated[Principal, Depends(role(*INVESTIGATOR))],
        from_: Annotated[datetime, Query(alias="from")],
        to: Annotated[datetime, Query()],
        purpose: Purpose,
        case_ref: CaseRef = None,
        object_class: Annotated[Literal["vehicle", "person", "bag", "weapon", "other"] | None, Query()] = None,
        attributes: Annotated[
            str | None, Query(description='a JSON object the attributes must hold, e.g. {"colour": "red"}')
        ] = None,
        camera_id: Annotated[list[str] | None, Query()] = None,
        lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
        lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
        radius_m: Annotated[float | None, Query(gt=0, le=5000)] = None,
        link_seconds: Annotated[int, Query(ge=0, le=60)] = 5,
        limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    ) -> dict[str, Any]:
        """Plate-less search of video-analytics detections by class, attributes, cameras or a place, and a time
        range; each vehicle comes back with its likely plates (ANPR reads at the same camera within
        ``link_seconds``) and a link confidence. Leads, never identifications. Audited."""
        start, end = window(from_, to)
        wanted = None
        if attributes is not None:
            try:
                wanted = json.loads(attributes)
            except ValueError:
                wanted = None
            if not isinstance(wanted, dict):
                raise HTTPException(422, 'attributes: give a JSON object, e.g. {"colour": "red"}')
        query = serving.VideoSearch(
            start, end, purpose, case_ref, object_class, wanted, camera_id, lon, lat, radius_m, link_seconds, limit
        )
        return {"events": rows(principal, lambda cur: serving.search_video_events(cur, query))}

    @app.get("/api/search/near", tags=["searches"])
    def search_near(
        principal: Annotated[Principal, Depends(role(*INVESTIGATOR))],
        lon: Annotated[float, Query(ge=-180, le=180)],
        lat: Annotated[float, Query(ge=-90, le=90)],
        radius_m: Annotated[float, Query(gt=0, le=5000)],
        from_: Annotated[datetime, Query(alias="from")],
        to: Annotated[datetime, Query()],
        purpose: Purpose,
        case_ref: CaseRef = None,
        limit: Limit = 500,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        """Vehicles read within ``radius_m`` of a point in [from, to), nearest first. Audited."""
        start, end = window(from_, to)
        after = decode_cursor("near", cursor, (float, datetime, str))
        found, next_cursor = page(
            rows(
                principal,
                lambda cur: serving.vehicles_near_page(
                    cur,
                    lon,
                    lat,
                    radius_m,
                    start,
                    end,
                    purpose,
                    case_ref,
                    limit,
                    after,  # type: ignore[arg-type]
                ),
            ),
            limit,
            "near",
            lambda r: [r["distance_m"], r["read_at"], r["read_id"]],
        )
        return collection((point_feature(r, "read_id") for r in found), next_cursor=next_cursor)

    @app.post("/api/search/stakeout", tags=["searches"])
    def search_stakeout(
        principal: Annotated[Principal, Depends(role(*INVESTIGATOR))],
        request: Annotated[StakeoutRequest, Body()],
    ) -> dict[str, Any]:
        """Vehicles seen at every place (or at least ``min_places``), each place in its own window. Audited."""
        places = [
            {"lon": p.lon, "lat": p.lat, "radius_m": p.radius_m, "from": p.from_.isoformat(), "to": p.to.isoformat()}
            for p in request.places
        ]
        minimum = request.min_places or len(places)
        after = decode_cursor("stakeout", request.cursor, (int, str))
        found, next_cursor = page(
            rows(
                principal,
                lambda cur: serving.stakeout_page(
                    cur,
                    places,
                    minimum,
                    request.purpose,
                    request.case_ref,
                    request.limit,
                    after,  # type: ignore[arg-type]
                ),
            ),
            request.limit,
            "stakeout",
            lambda r: [r["places_seen"], r["plate"]],
        )
        return {
            "places": places,
            "min_places": minimum,
            "vehicles": jsonable(found),
            "count": len(found),
            "next_cursor": next_cursor,
        }

    # ---- map layers ----

    @app.get("/api/cameras", tags=["map"])
    def cameras(
        principal: Annotated[Principal, Depends(role(*SEES_CAMERAS))],
        bbox: Annotated[str | None, Query(max_length=200)] = None,
        limit: Limit = 1000,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        """Current cameras: coverage polygons with each camera's point, type, last read and silence."""
        after = decode_cursor("cameras", cursor, (str,))
        found, next_cursor = page(
            rows(
                principal, lambda cur: serving.cameras_page(cur, limit, after[0] if after else None, parse_bbox(bbox))
            ),
            limit,
            "cameras",
            lambda r: [r["camera_id"]],
        )
        return collection((shape_feature(r, "coverage", "camera_id") for r in found), next_cursor=next_cursor)

    @app.get("/api/crimes", tags=["map"])
    def crimes(
        principal: Annotated[Principal, Depends(role(*SEES_CAMERAS))],
        since: datetime | None = None,
        until: datetime | None = None,
        bbox: Annotated[str | None, Query(max_length=200)] = None,
        crime_type: Annotated[str | None, Query(max_length=80)] = None,
        limit: Limit = 1000,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        """Current crime records with a location, as points."""
        after = decode_cursor("crimes", cursor, (str,))
        found, next_cursor = page(
            rows(
                principal,
                lambda cur: serving.crimes_page(
                    cur, utc(since), utc(until), parse_bbox(bbox), crime_type, limit, after[0] if after else None
                ),
            ),
            limit,
            "crimes",
            lambda r: [r["crime_id"]],
        )
        return collection((point_feature(r, "crime_id") for r in found), next_cursor=next_cursor)

    @app.get("/api/hotspots", tags=["map"])
    def hotspots(
        principal: Annotated[Principal, Depends(role(*ANALYST))],
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[str, Any]:
        """Emerging crime hotspots: their H3 cell outlines with score and summary."""
        found = rows(principal, lambda cur: serving.hotspots(cur, utc(since), utc(until)))
        return collection(shape_feature(r, "outline", "flag_id") for r in found)

    @app.get("/api/reports/lfr", tags=["oversight"])
    def lfr_report(
        principal: Annotated[Principal, Depends(role(*EVERY_ROLE))],
        period_from: Annotated[datetime, Query(alias="from", description="deployments starting at or after")],
        period_to: Annotated[datetime, Query(alias="to", description="deployments starting before")],
    ) -> dict[str, Any]:
        """The live facial recognition oversight report: per deployment, per borough and in total, with false
        alerts by recorded demographic group (95 % Wilson intervals, and warnings where counts are too small)."""
        start, end = utc(period_from), utc(period_to)
        if start is None or end is None or end <= start:
            raise HTTPException(422, "to must be after from")
        return rows(principal, lambda cur: serving.lfr_report(cur, start, end))

    @app.get("/api/boundaries/{layer}", tags=["map"])
    def boundaries(
        principal: Annotated[Principal, Depends(role(*SEES_CAMERAS))],
        layer: Literal["boroughs", "lsoas"],
    ) -> dict[str, Any]:
        """London boroughs or LSOAs (as loaded by `das load boundaries`), simplified for the map."""
        found = rows(principal, lambda cur: serving.boundaries(cur, layer))
        return collection(shape_feature(r, "outline", "code") for r in found)

    # ---- engineers ----

    @app.get("/api/ingest-runs", tags=["engineers"])
    def ingest_runs(
        principal: Annotated[Principal, Depends(role(*ENGINEER))],
        source: Annotated[str | None, Query(max_length=40)] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        """Ingest runs newest first, each landing file with its counts: landed = published + quarantined +
        duplicates (``reconciled``)."""
        after = decode_cursor("runs", cursor, (datetime, str, str))
        found, next_cursor = page(
            rows(principal, lambda cur: serving.ingest_runs_page(cur, source, limit, after)),  # type: ignore[arg-type]
            limit,
            "runs",
            lambda r: [r["finished_at"], r["ingest_run_id"], r["source_checksum"]],
        )
        return {"runs": jsonable(found), "count": len(found), "next_cursor": next_cursor}

    @app.get("/api/quality", tags=["engineers"])
    def quality(
        principal: Annotated[Principal, Depends(role(*ENGINEER))],
        source: Annotated[str | None, Query(max_length=40)] = None,
        failed_only: bool = False,
        limit: Limit = 200,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        """Great Expectations results of every ingest batch, newest first; Data Docs hold the full pages."""
        after = decode_cursor("quality", cursor, (datetime, str, str, str))
        found, next_cursor = page(
            rows(principal, lambda cur: serving.quality_page(cur, source, failed_only, limit, after)),  # type: ignore[arg-type]
            limit,
            "quality",
            lambda r: [r["validated_at"], r["ingest_run_id"], r["table_name"], r["check_name"]],
        )
        docs = settings.data_docs_dir / "index.html"
        return {
            "results": jsonable(found),
            "count": len(found),
            "next_cursor": next_cursor,
            "data_docs": "/data-docs/index.html" if docs.is_file() else None,
        }

    @app.get("/api/quarantine", tags=["engineers"])
    def quarantine(principal: Annotated[Principal, Depends(role(*ENGINEER))]) -> dict[str, Any]:
        """Quarantined rows by source and reason."""
        found = rows(principal, serving.quarantine_by_reason)
        return {"reasons": jsonable(found), "count": len(found)}

    @app.get("/api/notifications", tags=["engineers"])
    def notifications(principal: Annotated[Principal, Depends(role(*ENGINEER))]) -> dict[str, Any]:
        """The flag notifier's outbox, failed deliveries first."""
        found = rows(principal, serving.notifications)
        return {"notifications": jsonable(found), "count": len(found)}

    # ---- live ----

    @app.get("/api/live", tags=["flags"], response_class=StreamingResponse)
    async def live_flags(
        request: Request, principal: Annotated[Principal, Depends(role(*INVESTIGATOR))]
    ) -> StreamingResponse:
        """Server-sent events: each hotlist hit as it is written (``event: flag``), and each publish of flags."""
        queue = live.subscribe()

        async def events() -> AsyncIterator[str]:
            try:
                yield "event: ready\ndata: {}\n\n"
                while not await request.is_disconnected():
                    try:
                        event = await asyncio.wait_for(queue.get(), timeout=10)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"event: {event['event']}\ndata: {json.dumps(event)}\n\n"
            finally:
                live.unsubscribe(queue)

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    # ---- the web app ----

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Data Docs are plain pages a link opens (no bearer header): they need the engineer's signed cookie, which
    # /api/me sets. They appear with the first validation, maybe after start-up: mounted regardless.
    docs_files = StaticFiles(directory=settings.data_docs_dir, html=True, check_dir=False)

    async def data_docs(scope: Any, receive: Any, send: Any) -> None:
        if docs_pass.holder(Request(scope).cookies.get(DOCS_COOKIE)) is None:
            refused = PlainTextResponse("Data Docs are for engineers: sign in to das as an engineer first", 401)
            await refused(scope, receive, send)
            return
        if not settings.data_docs_dir.is_dir():
            missing = PlainTextResponse("no Data Docs yet: they are built by the first ingest's validation", 404)
            await missing(scope, receive, send)
            return
        await docs_files(scope, receive, send)

    app.mount("/data-docs", data_docs, name="data-docs")
    return app


def detector_parameters(settings: Settings, flag_type: str, fingerprint: str) -> dict[str, Any]:
    """The detector's parameters as configured now, and whether they are the ones that made this flag."""
    params = getattr(settings, flag_type, None) if flag_type in FLAG_TYPES else None
    if not isinstance(params, BaseModel):
        return {"fingerprint": fingerprint}
    current = detector_version(flag_type, params)
    return {
        "fingerprint": fingerprint,
        "current": params.model_dump(mode="json"),
        "same_as_flag": current == fingerprint,
    }
