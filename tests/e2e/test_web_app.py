"""The web app in a real headless browser (Debian's Chromium through chromedriver) against `das serve`.

`das serve` runs as its own process on a real PostGIS holding a week of London data. The browser signs in with a
token from `das users add`, loads the map, opens a flag (giving a purpose), triages it, sees the change persist
after a reload, meets a conflict when someone else triaged first, runs a stakeout, and sees a new hotlist hit
arrive without a reload. Screenshots of the map and the flag detail are left in test-artifacts/web/.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from das import postgis, users
from das.config import Settings
from das.postgis.connection import transaction
from tests.conftest import REPO_ROOT
from tests.integration.das.test_postgis import flag_row
from tests.integration.docs.analyst_dataset import READ_DAYS, publish_scene
from tests.postgres_fixtures import child_env, free_port, own_database

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(os.environ.get("DAS_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts")) / "web"
PURPOSE = "stolen vehicle enquiry, Barnet"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def rows(settings: Settings, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


@pytest.fixture(scope="module")
def served(pg_settings: Settings) -> Iterator[dict[str, Any]]:
    with own_database(pg_settings, "das_web_app") as settings:
        scene = publish_scene(settings)
        suffix = secrets.token_hex(3)
        people = {
            "investigator": users.add(settings, f"web_inv_{suffix}", "investigator"),
            "colleague": users.add(settings, f"web_col_{suffix}", "investigator"),
        }
        port = free_port()
        das = str(Path(sys.executable).with_name("das"))
        log = ARTIFACTS.parent / "das-serve.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            server = subprocess.Popen([das, "serve", "--port", str(port), "--no-notifier"], env=child_env(settings),
                                      stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    with urllib.request.urlopen(base + "/healthz", timeout=2) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    pass
                assert server.poll() is None, f"das serve exited: {log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, f"das serve did not answer: {log.read_text()[-3000:]}"
                time.sleep(0.5)
            yield {"settings": settings, "scene": scene, "people": people, "base": base}
        finally:
            server.terminate()
            server.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (CHROMIUM and DRIVER):
        message = "Chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: Any, condition: Any, seconds: float = 30) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.2).until(condition)


def body_flag(driver: Any, name: str) -> Any:
    return driver.execute_script(f"return document.body.dataset.{name}")


def sign_in(driver: Any, served: dict[str, Any], who: str = "investigator") -> None:
    from selenium.webdriver.common.by import By

    driver.get(served["base"] + "/")
    wait_for(driver, lambda d: d.find_element(By.ID, "token").is_displayed())
    driver.find_element(By.ID, "token").send_keys(served["people"][who].api_token)
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait_for(driver, lambda d: body_flag(d, "mapReady") == "1", 60)


def open_flag(driver: Any, flag_id: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f'#flag-list li[data-flag-id="{flag_id}"]').click()
    wait_for(driver, lambda d: d.find_element(By.ID, "purpose-dialog").is_displayed())
    driver.find_element(By.ID, "purpose-input").send_keys(PURPOSE)
    driver.find_element(By.ID, "purpose-ok").click()
    wait_for(driver, lambda d: body_flag(d, "flagReady") == flag_id)


def test_map_flag_triage_stakeout_and_live_hits_in_a_real_browser(served: dict[str, Any], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    settings, driver = served["settings"], browser
    # The map: boundaries, cameras and every flag listed, strongest first.
    sign_in(driver, served)
    flags = rows(settings, "SELECT flag_id FROM das.flags ORDER BY score DESC, flag_type, flag_id")
    listed = [li.get_attribute("data-flag-id") for li in driver.find_elements(By.CSS_SELECTOR, "#flag-list li")]
    assert listed == [f[0] for f in flags]
    assert driver.find_elements(By.CSS_SELECTOR, "#map canvas, #map svg"), "nothing drawn on the map"
    driver.save_screenshot(str(ARTIFACTS / "map.png"))

    # A flag's detail: summary, evidence rows as many as in the database, the parameters, a timeline.
    hit = served["scene"].flags["hotlist_hit"]
    open_flag(driver, hit)
    evidence = rows(settings, "SELECT count(*) FROM das.flag_evidence WHERE flag_id = %s", (hit,))[0][0]
    assert len(driver.find_elements(By.CSS_SELECTOR, "#evidence-table tbody tr")) == evidence > 0
    summary = rows(settings, "SELECT summary FROM das.flags WHERE flag_id = %s", (hit,))[0][0]
    assert driver.find_element(By.ID, "flag-summary").text == summary
    assert "fingerprint" in driver.find_element(By.ID, "flag-params").text
    assert driver.find_elements(By.CSS_SELECTOR, "#flag-timeline circle")
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#plate-history tbody tr"))
    time.sleep(1)  # the evidence map's boundaries
    driver.save_screenshot(str(ARTIFACTS / "flag-detail.png"))

    # Triage: escalate with a note; it persists (a reload reads it back from the database).
    driver.find_element(By.CSS_SELECTOR, '#triage-form input[value="escalated"]').click()
    driver.find_element(By.ID, "triage-note").send_keys("owner contacted, vehicle seen at Hendon Way")
    driver.find_element(By.ID, "triage-submit").click()
    wait_for(driver, lambda d: "Saved" in d.find_element(By.ID, "triage-message").text)
    driver.refresh()
    wait_for(driver, lambda d: d.find_element(By.ID, "purpose-dialog").is_displayed())
    driver.find_element(By.ID, "purpose-input").send_keys(PURPOSE)
    driver.find_element(By.ID, "purpose-ok").click()
    wait_for(driver, lambda d: body_flag(d, "flagReady") == hit)
    history = driver.find_element(By.ID, "triage-history").text
    assert "v1 escalated" in history and "owner contacted" in history
    assert served["people"]["investigator"].name in history
    assert rows(settings, "SELECT status FROM das.flags WHERE flag_id = %s", (hit,)) == [("escalated",)]

    # Someone else triages meanwhile: this page's change is refused with a clear conflict, nothing is lost.
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT das.triage_flag(%s, 'acknowledged', 'seen on CCTV', NULL, 1)", (hit,))
    driver.find_element(By.CSS_SELECTOR, '#triage-form input[value="dismissed"]').click()
    driver.find_element(By.ID, "triage-reason").send_keys("duplicate of another lead")
    driver.find_element(By.ID, "triage-submit").click()
    wait_for(driver, lambda d: "changed by someone else" in d.find_element(By.ID, "triage-message").text)
    assert rows(settings, "SELECT max(version), count(*) FROM das.flag_triage WHERE flag_id = %s", (hit,)) == [(2, 2)]

    # Stakeout: two ANPR cameras' junctions over the week; the page shows what the API finds.
    cameras = rows(settings, "SELECT longitude, latitude FROM das.cameras WHERE camera_type = 'anpr' AND "
                             "is_current ORDER BY camera_id LIMIT 2")  # fmt: skip
    driver.get(served["base"] + "/#search/stakeout")
    wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#stakeout-places .place")) == 2)
    form = driver.find_element(By.ID, "stakeout-form")
    form.find_element(By.NAME, "purpose").send_keys(PURPOSE)
    start, end = f"{READ_DAYS[0].isoformat()}T00:00", f"{READ_DAYS[-1].isoformat()}T23:59"
    for place, (lon, lat) in zip(
        driver.find_elements(By.CSS_SELECTOR, "#stakeout-places .place"), cameras, strict=True
    ):
        for name, value in (("lon", lon), ("lat", lat), ("radius_m", 200), ("from", start), ("to", end)):
            field = place.find_element(By.NAME, name)
            driver.execute_script("arguments[0].value = arguments[1]", field, str(value))
    form.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
    wait_for(driver, lambda d: d.find_element(By.ID, "stakeout-results").get_attribute("data-count") is not None)
    while driver.find_element(By.ID, "stakeout-results").get_attribute("data-complete") != "1":
        pages = driver.find_element(By.ID, "stakeout-results").get_attribute("data-count")
        driver.find_element(By.CSS_SELECTOR, "#view-search-stakeout .more").click()
        wait_for(driver, lambda d, n=pages: d.find_element(By.ID, "stakeout-results").get_attribute("data-count") != n)
    shown = {
        tr.get_attribute("data-plate")
        for tr in driver.find_elements(By.CSS_SELECTOR, "#stakeout-results tr[data-plate]")
    }
    expected = rows(
        settings,
        "SELECT plate FROM das.anpr_reads r, das.cameras c WHERE c.camera_type = 'anpr' AND c.is_current "
        "AND c.longitude = ANY(%s) AND c.latitude = ANY(%s) AND r.read_at >= %s AND r.read_at < %s "
        "AND ST_DWithin(r.geom_bng, c.geom_bng, 200) GROUP BY plate HAVING count(DISTINCT c.camera_id) = 2",
        ([c[0] for c in cameras], [c[1] for c in cameras], f"{start}Z", f"{end}Z"),
    )
    assert shown == {r[0] for r in expected} and shown
    driver.save_screenshot(str(ARTIFACTS / "stakeout.png"))

    # Live: a hotlist hit written now appears in the open map within seconds, with no reload.
    driver.get(served["base"] + "/#map")
    wait_for(driver, lambda d: body_flag(d, "mapReady") == "1" and body_flag(d, "live") == "1", 60)
    new_hit = flag_row(f"LIVE-{secrets.token_hex(4)}", 0.9, ["live-read-1"])
    new_hit.update(summary="Hotlist hit: LK19ZPT read just now at Hendon Way", detected_at=datetime.now(UTC))
    written = time.monotonic()
    postgis.publish_flags(settings, pd.DataFrame([new_hit]))
    wait_for(
        driver, lambda d: d.find_elements(By.CSS_SELECTOR, f'#live-hits li[data-flag-id="{new_hit["flag_id"]}"]'), 15
    )
    latency = time.monotonic() - written
    print(f"live hotlist hit shown {latency:.2f} s after it was written")
    assert "LK19ZPT read just now" in driver.find_element(By.ID, "live-hits").text
    driver.save_screenshot(str(ARTIFACTS / "live-hit.png"))
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert [m for m in errors if "409 (Conflict)" not in m] == []  # the conflict above is the one expected
