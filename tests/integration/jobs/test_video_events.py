"""Video-analytics events end to end: cameras, ANPR reads and events ingest through the DAGs' task functions and
reconcile, bad events are quarantined with their reason, and the audited attribute search (SQL and API) finds
"a red van near X at 10:00" with its likely plates and link confidences, and writes its audit row.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg2
import pytest
from fastapi.testclient import TestClient

from das import users
from das.config import Settings
from das.postgis.connection import transaction
from das_api import create_app
from jobs import tasks
from tests.postgres_fixtures import elsewhere, own_database

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PURPOSE = "robbery enquiry, red van seen at Trafalgar Square"
CAMERAS_CSV = "camera_id,longitude,latitude,name\nCAM1,-0.1276,51.5072,Trafalgar\nCAM2,-0.1419,51.5152,Oxford Circus\n"
READS_CSV = """read_id,camera_id,plate,read_at
R1,CAM1,AB12CDE,2026-12-01T10:00:01Z
R2,CAM1,XY34ZZZ,2026-12-01T10:00:04Z
R3,CAM2,GH56JKL,2026-12-01T10:00:30Z
R4,CAM1,LM78NOP,2026-12-01T10:05:00Z
"""
CAMERAS_CSV = "camera_id,longitude,latitude,name\nCAM1,-0.1276,51.5072,Trafalgar\nCAM2,-0.1419,51.5152,Oxford Circus\n"
READS_CSV = """read_id,camera_id,plate,read_at
R1,CAM1,AB12CDE,2026-12-01T10:00:01Z
R2,CAM1,XY34ZZZ,2026-12-01T10:00:04Z
R3,CAM2,GH56JKL,2026-12-01T10:00:30Z
R4,CAM1,LM78NOP,2026-12-01T10:05:00Z
"""
EVENTS_CSV = """event_id,camera_id,detected_at,object_class,confidence,track_id,attributes,image_uri
V1,CAM1,2026-12-01T10:00:00Z,vehicle,0.93,t1,"{""colour"": ""Red"", ""vehicle_type"": ""van""}",
V2,CAM2,2026-12-01T10:00:30Z,vehicle,0.88,t7,"{""colour"": ""red"", ""vehicle_type"": ""van""}",
V3,CAM1,2026-12-01T10:02:00Z,person,0.70,t2,"{""upper_colour"": ""red""}",
V4,CAM1,2026-12-01T10:03:00Z,vehicle,0.61,t3,,
B1,NOPE,2026-12-01T10:00:00Z,vehicle,0.90,,,
B2,CAM1,2026-12-01T10:00:00Z,vehicle,1.5,,,
B3,CAM1,2026-12-01T10:00:00Z,tank,0.50,,,
B4,CAM1,2026-12-01T10:00:00Z,vehicle,0.50,,red,
B5,CAM1,2026-12-01T10:00:00Z,vehicle,0.50,,"[""red""]",
V1,CAM1,2026-12-01T10:00:00Z,vehicle,0.93,t1,"{""colour"": ""Red"", ""vehicle_type"": ""van""}",
"""
EVENTS_JSONL = (
    '{"event_id": "J1", "camera_id": "CAM1", "detected_at": "2026-12-01T10:00:02Z", "object_class": "vehicle", '
    '"confidence": 0.8, "attributes": {"colour": "RED", "make": "Ford"}}\n'
    '{"event_id": "J2", "camera_id": "CAM1", "detected_at": "2026-12-01T10:00:02Z", "object_class": "vehicle", '
    '"confidence": 0.8, "attributes": "red"}\n'
)


@pytest.fixture(scope="module")
def scene(pg_settings: Settings, spark: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    landing = tmp_path_factory.mktemp("video-landing")
    for folder, name, body in (
        ("cameras", "cams.csv", CAMERAS_CSV),
        ("anpr", "reads.csv", READS_CSV),
        ("video_events", "events.csv", EVENTS_CSV),
        ("video_events", "events.jsonl", EVENTS_JSONL),
    ):
        (landing / folder).mkdir(exist_ok=True)
        (landing / folder / name).write_text(body)
    with own_database(pg_settings, "das_video_events_test", load_boundaries=False) as db:
        settings = elsewhere(db, tmp_path_factory.mktemp("video-home"))
        done = {}
        for source in ("cameras", "anpr", "video_events"):
            done[source] = tasks.ingest(source, landing / source, settings=settings, now=NOW)
            done[source]["published"] = tasks.publish(source, done[source], settings=settings)
        investigator = users.add(db, f"video_inv_{secrets.token_hex(3)}", "investigator")
        analyst = users.add(db, f"video_an_{secrets.token_hex(3)}", "analyst")
        yield {"db": db, "settings": settings, "done": done, "investigator": investigator, "analyst": analyst}


def test_events_reconcile_and_bad_ones_are_quarantined_with_their_reason(scene: dict[str, Any]) -> None:
    events = scene["done"]["video_events"]
    assert (events["rows_landed"], events["rows_published"], events["rows_quarantined"], events["rows_duplicate"]) == (
        12,
        5,
        6,
        1,
    )
    assert events["quarantine_reasons"] == {
        "unknown_camera": 1,
        "invalid_confidence": 1,
        "invalid_value": 1,
        "invalid_attributes": 3,
    }
    assert events["published"]["video_events"] == 5
    with transaction(scene["db"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT event_id, attributes, longitude FROM das.video_events ORDER BY event_id")
        held = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
    assert held["V1"] == ({"colour": "red", "vehicle_type": "van"}, -0.1276)  # lower case; at the camera
    assert held["J1"][0] == {"colour": "red", "make": "ford"}  # a nested JSONL object, put back together
    assert held["V4"][0] is None


def search(scene: dict[str, Any], who: str = "investigator", **params: Any) -> Any:
    with TestClient(create_app(scene["db"])) as client:
        return client.get(
            "/api/search/video",
            params={"from": "2026-12-01T09:00:00Z", "to": "2026-12-01T11:00:00Z", "purpose": PURPOSE, **params},
            headers={"Authorization": f"Bearer {scene[who].api_token}"},
        )


def test_a_red_van_near_trafalgar_comes_back_with_its_likely_plates(scene: dict[str, Any]) -> None:
    response = search(
        scene,
        object_class="vehicle",
        attributes='{"colour": "RED", "vehicle_type": "van"}',
        lon=-0.1276,
        lat=51.5072,
        radius_m=200,
        case_ref="CAD-4411",
    )
    assert response.status_code == 200, response.text
    events = response.json()["events"]
    assert [e["event_id"] for e in events] == ["V1"]  # V2 is at Oxford Circus, J1 has no vehicle type
    plates = events[0]["likely_plates"]
    assert [p["plate"] for p in plates] == ["AB12CDE", "XY34ZZZ"]  # R4, five minutes later, is no candidate
    # Closeness 1 - |dt| / 6 s: 5/6 and 2/6, shared between the two candidates.
    assert [p["link_confidence"] for p in plates] == pytest.approx([0.5952, 0.0952], abs=1e-4)
    with transaction(scene["db"]) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT purpose, case_ref, rows_returned, parameters->'attributes' FROM das.audit_log "
            "WHERE action = 'search_video_events' AND user_name = %s",
            (scene["investigator"].name,),
        )
        assert cur.fetchall() == [(PURPOSE, "CAD-4411", 2, {"colour": "red", "vehicle_type": "van"})]


def test_search_by_camera_and_class_without_attributes(scene: dict[str, Any]) -> None:
    found = search(scene, object_class="person", camera_id=["CAM1"]).json()["events"]
    assert [(e["event_id"], e["likely_plates"]) for e in found] == [("V3", [])]  # people get no plate links
    red = search(scene, attributes='{"colour": "red"}').json()["events"]
    assert sorted(e["event_id"] for e in red) == ["J1", "V1", "V2"]


def test_bad_searches_are_refused(scene: dict[str, Any]) -> None:
    assert search(scene, attributes="red").status_code == 422
    assert search(scene, lon=-0.1276, lat=51.5072).status_code == 422  # a place needs a radius
    assert search(scene, purpose="x").status_code == 422
    assert search(scene, who="analyst").status_code == 403


def test_only_investigators_may_run_the_search_in_sql(scene: dict[str, Any]) -> None:
    analyst = scene["analyst"]
    db = scene["db"]
    with (
        psycopg2.connect(
            host="127.0.0.1", port=db.pg_port, dbname=db.pg_database, user=analyst.name, password=analyst.db_password
        ) as conn,
        conn.cursor() as cur,
        pytest.raises(psycopg2.errors.InsufficientPrivilege),
    ):
        cur.execute("SELECT * FROM das.search_video_events(now() - interval '1 day', now(), %s)", (PURPOSE,))


def test_retention_removes_expired_events_from_the_lake_and_postgis(scene: dict[str, Any]) -> None:
    """Last in this file: it deletes the scene's events (and reads)."""
    from datetime import timedelta

    from das.lake import DeltaRsLake
    from schemas.tables import SILVER_VIDEO_EVENTS

    settings = scene["settings"]
    removed = tasks.retention(settings=settings, now=NOW + timedelta(days=366))
    assert removed["silver/video_events"] == 5 and removed["das.video_events day partitions"] == 1
    assert DeltaRsLake(tasks.runtime(settings).spark, settings.lake).read(SILVER_VIDEO_EVENTS).count() == 0
    with transaction(scene["db"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM das.video_events")
        assert cur.fetchone() == (0,)
