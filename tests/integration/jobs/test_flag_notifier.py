"""The flag notifier against real receivers (an HTTP server, aiosmtpd) and a real PostGIS outbox.

Each qualifying flag goes out once per channel, also across a restart (a fresh notifier on the same database);
a receiver that keeps failing is retried, then recorded as failed with a next try, and the flag is untouched.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from das import postgis
from das.config import AlertSettings, Settings
from das.notify import SIGNATURE_HEADER
from das.postgis.connection import transaction
from jobs import flag_notifier
from tests.integration.das.test_postgis import flag_row
from tests.postgres_fixtures import own_database
from tests.receivers import Mailbox, Receiver, mailbox_fixture, receiver_fixture, smtp_port

SECRET = "notifier-test-secret"
receiver = receiver_fixture
smtp = mailbox_fixture


@pytest.fixture
def db(pg_settings: Settings) -> Iterator[Settings]:
    with own_database(pg_settings, "das_notifier_test", load_boundaries=False) as settings:
        yield settings


def rows(settings: Settings, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def publish(settings: Settings, *flags: dict[str, Any]) -> None:
    postgis.publish_flags(settings, pd.DataFrame(list(flags)))


def with_channels(settings: Settings, **alerts: Any) -> Settings:
    return settings.model_copy(update={"alerts": AlertSettings(flag_min_score=0.7, **alerts)})


def strong_and_weak() -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    flags = [
        flag_row("NOTE-STRONG", 0.9, ["r1"]),
        flag_row("NOTE-WEAK", 0.3, ["r2"]),
        flag_row("NOTE-OLD", 0.95, ["r3"]),
    ]
    flags[1]["flag_type"] = "near_repeat"  # a weak lead of another type (every hotlist hit goes out)
    for flag in flags:
        flag["detected_at"] = now
    flags[2]["detected_at"] = now - timedelta(days=3)  # before the notifier's horizon: never paged about
    return flags


def test_every_hotlist_hit_goes_out_whatever_its_score(db: Settings, receiver: Receiver) -> None:
    settings = with_channels(db, webhook_url=receiver.url)
    weak_hit = flag_row("NOTE-WEAK-HIT", 0.3, ["r1"])
    weak_hit["detected_at"] = datetime.now(UTC)
    publish(settings, weak_hit)
    assert flag_notifier.notify_once(settings) == {"sent": 1, "failed": 0}


def test_each_strong_flag_is_posted_once_signed_and_never_again_after_a_restart(
    db: Settings, receiver: Receiver
) -> None:
    settings = with_channels(db, webhook_url=receiver.url, webhook_secret=SecretStr(SECRET))
    publish(settings, *strong_and_weak())
    assert flag_notifier.notify_once(settings) == {"sent": 1, "failed": 0}
    ((headers, body),) = receiver.requests
    assert headers[SIGNATURE_HEADER] == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    payload = json.loads(body)
    assert payload["flag_id"] == "NOTE-STRONG" and payload["delivery_id"] == "NOTE-STRONG:webhook"
    assert payload["event"] == "flag" and payload["summary"]
    # Again, and as a new process would (nothing in memory): the outbox says it was sent.
    assert flag_notifier.notify_once(settings) == {"sent": 0, "failed": 0}
    assert flag_notifier.notify_once(settings.model_copy()) == {"sent": 0, "failed": 0}
    assert len(receiver.requests) == 1
    assert rows(settings, "SELECT flag_id, channel, state, attempts FROM das.flag_notifications") == [
        ("NOTE-STRONG", "webhook", "sent", 1)
    ]
    # A new strong flag later goes out on the next pass; the old one still does not.
    later = flag_row("NOTE-LATER", 0.8, ["r9"])
    later["detected_at"] = datetime.now(UTC)
    publish(settings, later)
    assert flag_notifier.notify_once(settings) == {"sent": 1, "failed": 0}
    assert [json.loads(b)["flag_id"] for _, b in receiver.requests] == ["NOTE-STRONG", "NOTE-LATER"]


def test_a_failing_receiver_is_retried_then_recorded_failed_and_the_flag_is_kept(
    db: Settings, receiver: Receiver
) -> None:
    settings = with_channels(db, webhook_url=receiver.url)
    publish(settings, *strong_and_weak())
    receiver.statuses = [500] * 10
    assert flag_notifier.notify_once(settings) == {"sent": 0, "failed": 1}
    assert len(receiver.requests) == 4  # post_webhook's own retries with backoff
    state, attempts, error, next_try = rows(
        settings,
        "SELECT state, attempts, last_error, next_attempt_at FROM das.flag_notifications WHERE flag_id = 'NOTE-STRONG'",
    )[0]
    assert (state, attempts, error) == ("failed", 1, "HTTP 500") and next_try > datetime.now(UTC)
    assert rows(settings, "SELECT status FROM das.flags WHERE flag_id = 'NOTE-STRONG'") == [("new",)]
    # Not before its next try; once it is due, it is sent and marked sent.
    assert flag_notifier.notify_once(settings) == {"sent": 0, "failed": 0}
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute("UPDATE das.flag_notifications SET next_attempt_at = now() - interval '1 second'")
    receiver.statuses = []
    assert flag_notifier.notify_once(settings) == {"sent": 1, "failed": 0}
    assert rows(settings, "SELECT state, attempts, last_error FROM das.flag_notifications") == [("sent", 2, None)]


def test_a_claim_left_by_a_notifier_that_died_is_taken_again(db: Settings, receiver: Receiver) -> None:
    settings = with_channels(db, webhook_url=receiver.url)
    publish(settings, *strong_and_weak())
    from das.postgis import outbox

    claimed = outbox.claim(settings, "webhook", min_score=0.7, flag_types=[], max_age=timedelta(days=1))
    assert [f["flag_id"] for f in claimed] == ["NOTE-STRONG"]  # ... and then the process died before sending
    assert flag_notifier.notify_once(settings) == {"sent": 0, "failed": 0}  # a fresh claim is left alone
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute("UPDATE das.flag_notifications SET claimed_at = now() - interval '10 minutes'")
    assert flag_notifier.notify_once(settings) == {"sent": 1, "failed": 0}
    assert json.loads(receiver.requests[0][1])["delivery_id"] == "NOTE-STRONG:webhook"  # the receiver can dedupe


def test_email_goes_through_a_real_smtp_server(db: Settings, smtp: tuple[Controller, Mailbox]) -> None:
    controller, mailbox = smtp
    settings = with_channels(
        db, smtp_host="127.0.0.1", smtp_port=smtp_port(controller), smtp_to=["duty@met.example"], flag_types=["convoy"]
    )
    convoy = flag_row("NOTE-CONVOY", 0.85, ["r1"])
    convoy.update(flag_type="convoy", detected_at=datetime.now(UTC))
    other = flag_row("NOTE-OTHER", 0.99, ["r2"])
    other["detected_at"] = datetime.now(UTC)
    publish(settings, convoy, other)
    assert flag_notifier.notify_once(settings) == {"sent": 1, "failed": 0}  # flag_types keeps only convoys
    (message,) = mailbox.messages
    text = message.content.decode()
    assert "das convoy lead, score 0.85" in text and "NOTE-CONVOY" in text
    assert message.rcpt_tos == ["duty@met.example"]
    assert flag_notifier.notify_once(settings) == {"sent": 0, "failed": 0}
