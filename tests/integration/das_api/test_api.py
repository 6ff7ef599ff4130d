"""The JSON API against a real PostGIS holding a small week of London data (published with production code).

The app runs in-process (Starlette's TestClient drives the real FastAPI application, its lifespan and its
das_api database login); every rule of the issue is checked here: tokens, roles, purposes, audit rows, pages,
filters, optimistic concurrency, the searches' results against plain SQL, and bad input getting 4xx.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from das import users
from das.config import Settings
from das.postgis.connection import transaction
from das_api import create_app
from tests.integration.docs.analyst_dataset import HENDON_SPOT, READ_DAYS, SEARCHED_PLATES, SILENT_CAMERA, publish_scene
from tests.postgres_fixtures import own_database

PURPOSE = "burglary series enquiry, Hendon Way"
DAY_FROM = datetime.combine(READ_DAYS[0], datetime.min.time(), UTC)
DAY_TO = datetime.combine(READ_DAYS[-1], datetime.min.time(), UTC) + timedelta(days=1)


@pytest.fixture(scope="module")
def world(pg_settings: Settings) -> Iterator[dict[str, Any]]:
    with own_database(pg_settings, "das_api_test") as settings:
        scene = publish_scene(settings)
        suffix = secrets.token_hex(3)
        people = {
            role: users.add(settings, f"api_{role}_{suffix}", role)
            for role in ("investigator", "analyst", "engineer", "auditor")
        }
        people["second"] = users.add(settings, f"api_second_{suffix}", "investigator")
        with TestClient(create_app(settings)) as client:
            yield {"settings": settings, "scene": scene, "people": people, "client": client}


def call(world: dict[str, Any], who: str | None, method: str, path: str, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {world['people'][who].api_token}"} if who else {}
    return world["client"].request(method, path, headers=headers, **kwargs)


def query(settings: Settings, sql: str, params: Any) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` as the pipeline's role: what the API answers is checked against the tables themselves."""
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def walk(world: dict[str, Any], path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every feature of a paged list, following next_cursor."""
    features, cursor = [], None
    while True:
        page = ok(call(world, "investigator", "GET", path, params={**params, "limit": 1000, "cursor": cursor}))
        features += page["features"]
        cursor = page["next_cursor"]
        if cursor is None:
            return features


def stakeout_plates(world: dict[str, Any], body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every vehicle of a stakeout, page after page."""
    vehicles, cursor = [], None
    while True:
        page = ok(call(world, "investigator", "POST", "/api/search/stakeout", json={**body, "cursor": cursor}))
        vehicles += page["vehicles"]
        cursor = page["next_cursor"]
        if cursor is None:
            return vehicles


def audit_rows(world: dict[str, Any], who: str, action: str) -> list[tuple[Any, ...]]:
    return query(
        world["settings"],
        "SELECT purpose, case_ref, rows_returned, parameters FROM das.audit_log WHERE user_name = %s AND action = %s "
        "ORDER BY audit_id",
        (world["people"][who].name, action),
    )


# ---- tokens and roles ----


def test_only_healthz_is_open_and_tokens_are_checked(world: dict[str, Any]) -> None:
    assert ok(call(world, None, "GET", "/healthz"))["ok"] is True
    for path in ("/api/flags", "/api/cameras", "/api/ingest-runs", "/api/me", "/api/live"):
        response = call(world, None, "GET", path)
        assert response.status_code == 401, path
        assert "Bearer" in response.headers.get("www-authenticate", "")
    forged = world["client"].get("/api/me", headers={"Authorization": "Bearer das_" + "x" * 43})
    assert forged.status_code == 401 and "unknown or revoked" in forged.json()["detail"]
    assert ok(call(world, "investigator", "GET", "/api/me")) == {
        "name": world["people"]["investigator"].name,
        "role": "investigator",
    }


def test_a_revoked_token_is_refused(world: dict[str, Any]) -> None:
    victim = users.add(world["settings"], f"api_gone_{secrets.token_hex(3)}", "investigator")
    users.revoke(world["settings"], victim.name)
    response = world["client"].get("/api/me", headers={"Authorization": f"Bearer {victim.api_token}"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        ("analyst", "/api/flags", 403),
        ("engineer", "/api/flags", 403),
        ("auditor", "/api/cameras", 403),
        ("investigator", "/api/ingest-runs", 403),
        ("analyst", "/api/quality", 403),
        ("engineer", "/api/hotspots", 403),
        ("analyst", "/api/hotspots", 200),
        ("engineer", "/api/ingest-runs", 200),
        ("analyst", "/api/cameras?limit=5", 200),
    ],
)
def test_each_role_reaches_only_what_it_may(world: dict[str, Any], who: str, path: str, status: int) -> None:
    response = call(world, who, "GET", path)
    assert response.status_code == status, response.text
    if status == 403:
        assert "role may not" in response.json()["detail"]


# ---- flags ----


def test_flags_are_geojson_strongest_first_and_pages_walk_the_whole_list(world: dict[str, Any]) -> None:
    everything = ok(call(world, "investigator", "GET", "/api/flags"))
    assert everything["type"] == "FeatureCollection" and everything["next_cursor"] is None
    scores = [f["properties"]["score"] for f in everything["features"]]
    assert scores == sorted(scores, reverse=True)
    assert len(scores) == query(world["settings"], "SELECT count(*) FROM das.flags", ())[0][0] >= 4
    assert all(f["geometry"]["type"] == "Point" for f in everything["features"])
    walked, cursor = [], None
    while True:
        page = ok(call(world, "investigator", "GET", "/api/flags", params={"limit": 1, "cursor": cursor}))
        walked += [f["id"] for f in page["features"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == [f["id"] for f in everything["features"]]


def test_flag_filters(world: dict[str, Any]) -> None:
    def ids(**params: Any) -> set[str]:
        return {f["id"] for f in ok(call(world, "investigator", "GET", "/api/flags", params=params))["features"]}

    hits = query(world["settings"], "SELECT flag_id FROM das.flags WHERE flag_type = 'hotlist_hit'", ())
    assert ids(type="hotlist_hit") == {r[0] for r in hits} and len(hits) == 2
    strong = ids(min_score=0.9)
    assert strong == {r[0] for r in query(world["settings"], "SELECT flag_id FROM das.flags WHERE score >= 0.9", ())}
    assert ids(status="dismissed") == set()
    lon, lat = HENDON_SPOT
    near_hendon = ids(bbox=f"{lon - 0.05},{lat - 0.05},{lon + 0.05},{lat + 0.05}")
    inside = query(
        world["settings"],
        "SELECT flag_id FROM das.flags WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)",
        (lon - 0.05, lat - 0.05, lon + 0.05, lat + 0.05),
    )
    assert near_hendon == {r[0] for r in inside}
    assert ids(since="2030-01-01T00:00:00Z") == set()
    assert ids(until="2000-01-02T00:00:00Z") == set()


@pytest.mark.parametrize(
    "params",
    [
        {"min_score": "2"},
        {"min_score": "high"},
        {"type": "not_a_type"},
        {"status": "closed"},
        {"bbox": "1,2,3"},
        {"bbox": "10,10,0,0"},
        {"since": "yesterday"},
        {"since": "1700-01-01T00:00:00Z"},
        {"limit": "0"},
        {"limit": "100000"},
    ],
)
def test_invalid_flag_filters_get_422_with_a_message(world: dict[str, Any], params: dict[str, str]) -> None:
    response = call(world, "investigator", "GET", "/api/flags", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_a_foreign_or_damaged_cursor_gets_400(world: dict[str, Any]) -> None:
    for cursor in ("not-base64!", "eyJ4IjoxfQ", "WyJjYW1lcmFzIixbIngiXV0"):  # junk, a dict, another list's cursor
        response = call(world, "investigator", "GET", "/api/flags", params={"cursor": cursor})
        assert response.status_code == 400, (cursor, response.text)


def test_a_flag_shows_its_evidence_only_with_a_purpose_and_the_view_is_audited(world: dict[str, Any]) -> None:
    flag_id = world["scene"].flags["hotlist_hit"]
    without = call(world, "investigator", "GET", f"/api/flags/{flag_id}")
    assert without.status_code == 422 and "purpose" in without.text
    short = call(world, "investigator", "GET", f"/api/flags/{flag_id}", params={"purpose": "because"})
    assert short.status_code == 422
    before = len(audit_rows(world, "investigator", "view_flag"))
    flag = ok(call(world, "investigator", "GET", f"/api/flags/{flag_id}",
                   params={"purpose": PURPOSE, "case_ref": "CASE-42"}))  # fmt: skip
    assert flag["type"] == "Feature" and flag["id"] == flag_id
    props = flag["properties"]
    assert props["evidence"]["type"] == "FeatureCollection" and props["evidence"]["features"]
    assert props["parameters"]["fingerprint"] == props["detector_version"]
    assert props["version"] == 0 and props["history"] == []
    rows = audit_rows(world, "investigator", "view_flag")
    assert len(rows) == before + 1
    assert rows[-1][:3] == (PURPOSE, "CASE-42", len(props["evidence"]["features"]))
    missing = call(world, "investigator", "GET", "/api/flags/no-such-flag", params={"purpose": PURPOSE})
    assert missing.status_code == 404 and "no flag" in missing.json()["detail"]


# ---- triage ----


def test_two_investigators_triaging_at_once_lose_nothing_and_the_second_is_told(world: dict[str, Any]) -> None:
    flag_id = world["scene"].flags["emerging_hotspot"]
    path = f"/api/flags/{flag_id}/triage"
    barrier = threading.Barrier(2)
    answers: dict[str, Any] = {}

    def triage(who: str, status: str) -> None:
        barrier.wait()
        answers[who] = call(world, who, "POST", path, json={"status": status, "note": f"by {who}", "version": 0})

    threads = [
        threading.Thread(target=triage, args=("investigator", "acknowledged")),
        threading.Thread(target=triage, args=("second", "escalated")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(a.status_code for a in answers.values())
    assert codes == [200, 409], {k: v.text for k, v in answers.items()}
    loser = next(a for a in answers.values() if a.status_code == 409)
    assert "changed by someone else" in loser.json()["detail"] and "reload" in loser.json()["detail"]
    winner = next(who for who, a in answers.items() if a.status_code == 200)
    # The second person reloads, sees version 1, and their change goes in on top: nothing was lost.
    other = "second" if winner == "investigator" else "investigator"
    retry = ok(call(world, other, "POST", path, json={"status": "dismissed", "reason": "known cluster", "version": 1}))
    assert retry["version"] == 2
    history = retry["history"]
    assert [h["version"] for h in history] == [1, 2]
    assert [h["user_name"] for h in history] == [world["people"][winner].name, world["people"][other].name]
    assert history[1]["previous_status"] == history[0]["status"] and history[1]["reason"] == "known cluster"
    flag = ok(call(world, "investigator", "GET", f"/api/flags/{flag_id}", params={"purpose": PURPOSE}))
    assert flag["properties"]["status"] == "dismissed" and flag["properties"]["version"] == 2
    assert query(world["settings"], "SELECT status FROM das.flags WHERE flag_id = %s", (flag_id,)) == [("dismissed",)]
    assert audit_rows(world, other, "triage")[-1][2] == 1


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"status": "dismissed", "version": 0}, 422, "reason"),
        ({"status": "closed", "version": 0}, 422, "status"),
        ({"status": "acknowledged"}, 422, "version"),
        ({"status": "acknowledged", "version": 7}, 409, "version 7"),
        ({"status": "acknowledged", "version": 0, "extra": 1}, 422, "extra"),
    ],
)
def test_bad_triage_requests_change_nothing(
    world: dict[str, Any], body: dict[str, Any], status: int, words: str
) -> None:
    flag_id = world["scene"].flags["camera_silent"]
    response = call(world, "investigator", "POST", f"/api/flags/{flag_id}/triage", json=body)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert query(world["settings"], "SELECT count(*) FROM das.flag_triage WHERE flag_id = %s", (flag_id,)) == [(0,)]


def test_malformed_json_and_unknown_flags_get_4xx(world: dict[str, Any]) -> None:
    flag_id = world["scene"].flags["camera_silent"]
    headers = {"Authorization": f"Bearer {world['people']['investigator'].api_token}",
               "Content-Type": "application/json"}  # fmt: skip
    bad = world["client"].post(f"/api/flags/{flag_id}/triage", content=b"{status:", headers=headers)
    assert bad.status_code == 422 and "JSON" in bad.json()["detail"]
    unknown = call(
        world, "investigator", "POST", "/api/flags/nope/triage", json={"status": "acknowledged", "version": 0}
    )
    assert unknown.status_code == 404


# ---- searches ----


def test_plate_history_with_wildcards_is_audited(world: dict[str, Any]) -> None:
    params = {"from": DAY_FROM.isoformat(), "to": DAY_TO.isoformat(), "purpose": PURPOSE}
    found = ok(call(world, "investigator", "GET", "/api/plates/AB12*/history", params=params))
    plates = {f["properties"]["plate"] for f in found["features"]}
    assert plates == set(SEARCHED_PLATES)
    times = [f["properties"]["read_at"] for f in found["features"]]
    assert times == sorted(times)
    expected = query(
        world["settings"],
        "SELECT count(*) FROM das.anpr_reads WHERE plate LIKE 'AB12%%' AND read_at >= %s AND read_at < %s",
        (DAY_FROM, DAY_TO),
    )[0][0]
    assert found["count"] == expected > 0
    assert audit_rows(world, "investigator", "search_plate")[-1][0] == PURPOSE
    one = ok(call(world, "investigator", "GET", "/api/plates/AB12C%3FE/history", params=params))  # ? is %3F in a path
    assert {f["properties"]["plate"] for f in one["features"]} == {"AB12CDE"}
    paged = ok(call(world, "investigator", "GET", "/api/plates/AB12*/history", params={**params, "limit": 2}))
    assert paged["count"] == 2 and paged["next_cursor"]
    rest = ok(call(world, "investigator", "GET", "/api/plates/AB12*/history",
                   params={**params, "limit": 1000, "cursor": paged["next_cursor"]}))  # fmt: skip
    assert [f["id"] for f in paged["features"] + rest["features"]] == [f["id"] for f in found["features"]]


@pytest.mark.parametrize(
    ("plate", "params"),
    [
        ("*", {}),
        ("A*", {}),
        ("AB12%25", {}),
        ("AB12*", {"purpose": None}),
        ("AB12*", {"to": "2026-11-01T00:00:00Z"}),  # to before from
        ("AB12*", {"from": "2026-01-01T00:00:00Z"}),  # more than 31 days
    ],
)
def test_bad_plate_searches_get_422(world: dict[str, Any], plate: str, params: dict[str, Any]) -> None:
    base = {"from": DAY_FROM.isoformat(), "to": DAY_TO.isoformat(), "purpose": PURPOSE}
    merged = {k: v for k, v in {**base, **params}.items() if v is not None}
    response = call(world, "investigator", "GET", f"/api/plates/{plate}/history", params=merged)
    assert response.status_code == 422, response.text


def test_vehicles_near_a_place_match_plain_sql_and_page_nearest_first(world: dict[str, Any]) -> None:
    lon, lat = HENDON_SPOT
    params = {"lon": lon, "lat": lat, "radius_m": 150, "from": DAY_FROM.isoformat(), "to": DAY_TO.isoformat(),
              "purpose": PURPOSE}  # fmt: skip
    found = {"features": walk(world, "/api/search/near", params)}
    expected = query(
        world["settings"],
        "SELECT read_id FROM das.anpr_reads WHERE read_at >= %s AND read_at < %s AND ST_DWithin(geom_bng, "
        "ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4326), 27700), 150)",
        (DAY_FROM, DAY_TO, lon, lat),
    )
    assert {f["id"] for f in found["features"]} == {r[0] for r in expected} and expected
    distances = [f["properties"]["distance_m"] for f in found["features"]]
    assert distances == sorted(distances) and max(distances) <= 150
    first = ok(call(world, "investigator", "GET", "/api/search/near", params={**params, "limit": 3}))
    second = ok(call(world, "investigator", "GET", "/api/search/near",
                     params={**params, "limit": 3, "cursor": first["next_cursor"]}))  # fmt: skip
    assert [f["id"] for f in first["features"] + second["features"]] == [f["id"] for f in found["features"][:6]]
    assert audit_rows(world, "investigator", "search_vehicles_near")[-1][0] == PURPOSE
    assert call(world, "investigator", "GET", "/api/search/near", params={**params, "purpose": ""}).status_code == 422
    assert call(world, "investigator", "GET", "/api/search/near", params={**params, "radius_m": 0}).status_code == 422


def _stakeout_expected(world: dict[str, Any], places: list[dict[str, Any]], minimum: int) -> set[str]:
    seen: dict[str, set[int]] = {}
    for n, p in enumerate(places):
        rows = query(
            world["settings"],
            "SELECT DISTINCT plate FROM das.anpr_reads WHERE read_at >= %s AND read_at < %s AND ST_DWithin(geom_bng, "
            "ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4326), 27700), %s)",
            (p["from"], p["to"], p["lon"], p["lat"], p["radius_m"]),
        )
        for (plate,) in rows:
            seen.setdefault(plate, set()).add(n)
    return {plate for plate, where in seen.items() if len(where) >= minimum}


def test_stakeout_finds_the_vehicles_seen_at_all_or_enough_of_the_places(world: dict[str, Any]) -> None:
    cameras = query(
        world["settings"],
        "SELECT longitude, latitude FROM das.cameras WHERE camera_type = 'anpr' AND is_current ORDER BY camera_id",
        (),
    )
    assert len(cameras) >= 3
    places = [
        {"lon": lon, "lat": lat, "radius_m": 200, "from": DAY_FROM.isoformat(), "to": DAY_TO.isoformat()}
        for lon, lat in cameras[:3]
    ]
    body = {"places": places, "purpose": PURPOSE, "case_ref": "STAKE-1"}
    everywhere = stakeout_plates(world, {**body, "limit": 7})
    assert [v["plate"] for v in everywhere] and len({v["plate"] for v in everywhere}) == len(everywhere)
    assert {v["plate"] for v in everywhere} == _stakeout_expected(world, places, 3)
    two = stakeout_plates(world, {**body, "min_places": 2, "limit": 50})
    assert {v["plate"] for v in two} == _stakeout_expected(world, places, 2)
    assert len(two) > len(everywhere) > 0
    for vehicle in two:
        assert vehicle["places_seen"] >= 2 and len(set(vehicle["place_numbers"])) == vehicle["places_seen"]
        assert {s["place"] for s in vehicle["sightings"]} == set(vehicle["place_numbers"])
    assert [v["places_seen"] for v in two] == sorted((v["places_seen"] for v in two), reverse=True)
    assert audit_rows(world, "investigator", "search_stakeout")[-1][:2] == (PURPOSE, "STAKE-1")


def place_at(lon: float, start: str, end: str) -> dict[str, Any]:
    return {"lon": lon, "lat": 51, "radius_m": 100, "from": f"{start}T00:00:00Z", "to": f"{end}T00:00:00Z"}


@pytest.mark.parametrize(
    "change",
    [
        {"places": "one"},
        {"places": []},
        {"min_places": 4},  # more than the three places
        {"purpose": "short"},
        {"purpose": None},
        {"places": [place_at(0, "2026-11-23", "2026-11-22")] * 2},  # ends before it starts
        {"places": [place_at(0, "2026-01-01", "2026-11-22")] * 2},  # more than 7 days
        {"places": [place_at(0, "2026-11-21", "2026-11-22")] * 6},  # more than five places
        {"places": [place_at(500, "2026-11-21", "2026-11-22")] * 2},  # not a longitude
    ],
)  # fmt: skip
def test_bad_stakeouts_get_422(world: dict[str, Any], change: dict[str, Any]) -> None:
    place = {"lon": -0.2, "lat": 51.57, "radius_m": 200, "from": DAY_FROM.isoformat(), "to": DAY_TO.isoformat()}
    body = {"places": [place, place, place], "purpose": PURPOSE, **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = call(world, "investigator", "POST", "/api/search/stakeout", json=body)
    assert response.status_code == 422, response.text


# ---- map layers and engineers ----


def test_cameras_come_with_coverage_and_health_a_page_at_a_time(world: dict[str, Any]) -> None:
    found, cursor = [], None
    while True:
        page = ok(call(world, "engineer", "GET", "/api/cameras", params={"limit": 7, "cursor": cursor}))
        found += page["features"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    current = query(world["settings"], "SELECT count(*) FROM das.cameras WHERE is_current", ())[0][0]
    assert len(found) == current == len({f["id"] for f in found})
    assert all(f["geometry"]["type"] == "Polygon" for f in found)
    silent = {f["id"]: f["properties"] for f in found}[SILENT_CAMERA]
    assert silent["silent_flag_id"] == world["scene"].flags["camera_silent"]
    assert silent["last_read_at"] is not None


@pytest.mark.parametrize(
    ("who", "path", "params"),
    [
        ("engineer", "/api/ingest-runs", {"source": "\x00"}),
        ("investigator", "/api/flags", {"type": "hotlist_hit\x00"}),
        ("investigator", "/api/plates/AB%0012/history", {"purpose": "case work"}),
    ],
)
def test_nul_characters_get_422_naming_the_parameter(
    world: dict[str, Any], who: str, path: str, params: dict[str, str]
) -> None:
    response = call(world, who, "GET", path, params=params)
    assert response.status_code == 422, response.text
    assert "NUL" in response.json()["detail"]


def test_engineers_see_runs_reconciled_quarantine_and_the_outbox(world: dict[str, Any]) -> None:
    runs = ok(call(world, "engineer", "GET", "/api/ingest-runs"))
    assert runs["runs"] and all(r["reconciled"] for r in runs["runs"] if r["status"] == "succeeded")
    finished = [r["finished_at"] for r in runs["runs"]]
    assert finished == sorted(finished, reverse=True)
    reasons = ok(call(world, "engineer", "GET", "/api/quarantine"))["reasons"]
    assert reasons and all(r["rows"] > 0 for r in reasons)
    assert ok(call(world, "engineer", "GET", "/api/quality"))["count"] == 0  # the scene publishes no checks
    assert "notifications" in ok(call(world, "engineer", "GET", "/api/notifications"))


def test_boundaries_crimes_and_hotspots_are_geojson(world: dict[str, Any]) -> None:
    boroughs = ok(call(world, "analyst", "GET", "/api/boundaries/boroughs"))
    assert len(boroughs["features"]) == 33
    assert {f["geometry"]["type"] for f in boroughs["features"]} <= {"Polygon", "MultiPolygon"}
    assert call(world, "analyst", "GET", "/api/boundaries/wards;drop").status_code == 422
    crimes = ok(call(world, "analyst", "GET", "/api/crimes", params={"limit": 5}))
    assert crimes["count"] == 5 and crimes["next_cursor"]
    spots = ok(call(world, "analyst", "GET", "/api/hotspots"))
    assert [f["id"] for f in spots["features"]] == [world["scene"].flags["emerging_hotspot"]]
    assert spots["features"][0]["geometry"]["type"] == "Polygon"


def test_the_openapi_document_lists_the_contract_paths(world: dict[str, Any]) -> None:
    document = ok(call(world, None, "GET", "/openapi.json"))
    paths = document["paths"]
    for path, method in [
        ("/api/flags", "get"),
        ("/api/flags/{flag_id}", "get"),
        ("/api/flags/{flag_id}/triage", "post"),
        ("/api/plates/{plate}/history", "get"),
        ("/api/search/near", "get"),
        ("/api/search/stakeout", "post"),
        ("/api/cameras", "get"),
        ("/api/ingest-runs", "get"),
        ("/api/quality", "get"),
    ]:
        assert method in paths[path], path
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_data_docs_open_only_with_an_engineers_signed_cookie(world: dict[str, Any]) -> None:
    client = world["client"]
    client.cookies.clear()
    assert client.get("/data-docs/index.html").status_code == 401
    call(world, "investigator", "GET", "/api/me")
    assert "das_docs" not in client.cookies
    client.cookies.set("das_docs", "someone|9999999999|forged", path="/data-docs")
    assert client.get("/data-docs/index.html").status_code == 401
    client.cookies.clear()
    call(world, "engineer", "GET", "/api/me")
    assert client.get("/data-docs/index.html").status_code in (200, 404)  # past the check: there or not yet built
    client.cookies.clear()
