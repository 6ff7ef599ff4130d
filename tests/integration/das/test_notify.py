"""Notifiers against real receivers: an HTTP server on a local port and an aiosmtpd SMTP server."""

from __future__ import annotations

import hashlib
import hmac
import json

from aiosmtpd.controller import Controller
from pydantic import SecretStr

from das.config import AlertSettings
from das.notify import SIGNATURE_HEADER, notify, post_webhook, send_email
from tests.receivers import Mailbox, Receiver, mailbox_fixture, receiver_fixture, smtp_port

receiver = receiver_fixture
smtp = mailbox_fixture

SECRET = "webhook-shared-secret"


def test_webhook_is_signed_over_the_exact_body(receiver: Receiver) -> None:
    delivery = post_webhook(receiver.url, {"flag_id": "f1", "score": 0.9}, SECRET)
    assert delivery.ok and delivery.attempts == 1
    headers, body = receiver.requests[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == expected
    assert json.loads(body) == {"flag_id": "f1", "score": 0.9}
    tampered = body.replace(b"0.9", b"0.1")
    assert "sha256=" + hmac.new(SECRET.encode(), tampered, hashlib.sha256).hexdigest() != expected


def test_webhook_retries_server_errors_then_delivers(receiver: Receiver) -> None:
    receiver.statuses = [503, 500]
    delivery = post_webhook(receiver.url, {"x": 1}, SECRET, backoff_s=0.01)
    assert delivery.ok and delivery.attempts == 3
    assert len(receiver.requests) == 3
    assert len({body for _, body in receiver.requests}) == 1  # the same body each time


def test_webhook_that_keeps_failing_is_reported_not_raised(receiver: Receiver) -> None:
    receiver.statuses = [500] * 10
    delivery = post_webhook(receiver.url, {"x": 1}, SECRET, attempts=3, backoff_s=0.01)
    assert not delivery.ok and delivery.attempts == 3 and delivery.error == "HTTP 500"


def test_webhook_client_errors_are_not_retried(receiver: Receiver) -> None:
    receiver.statuses = [401]
    delivery = post_webhook(receiver.url, {"x": 1}, SECRET, backoff_s=0.01)
    assert not delivery.ok and delivery.attempts == 1 and len(receiver.requests) == 1


def test_webhook_to_a_closed_port_fails_cleanly() -> None:
    r = Receiver()
    url = r.url
    r.close()
    delivery = post_webhook(url, {"x": 1}, None, attempts=2, backoff_s=0.01)
    assert not delivery.ok and delivery.attempts == 2 and "Error" in (delivery.error or "")


def test_email_reaches_a_real_smtp_server(smtp: tuple[Controller, Mailbox]) -> None:
    controller, mailbox = smtp
    alerts = AlertSettings(smtp_host="127.0.0.1", smtp_port=smtp_port(controller), smtp_to=["duty@met.example"])
    delivery = send_email(alerts, "das: ingest_anpr failed", "dag_id: ingest_anpr")
    assert delivery.ok
    [envelope] = mailbox.messages
    assert envelope.rcpt_tos == ["duty@met.example"]
    assert b"Subject: das: ingest_anpr failed" in envelope.content
    assert b"dag_id: ingest_anpr" in envelope.content


def test_notify_uses_every_configured_channel(receiver: Receiver, smtp: tuple[Controller, Mailbox]) -> None:
    controller, mailbox = smtp
    alerts = AlertSettings(
        webhook_url=receiver.url,
        webhook_secret=SecretStr(SECRET),
        smtp_host="127.0.0.1",
        smtp_port=smtp_port(controller),
        smtp_to=["duty@met.example"],
    )
    deliveries = notify(alerts, "subject", {"dag_id": "d"})
    assert [(d.channel, d.ok) for d in deliveries] == [("webhook", True), ("email", True)]
    assert json.loads(receiver.requests[0][1]) == {"subject": "subject", "dag_id": "d"}
    assert len(mailbox.messages) == 1
    assert notify(AlertSettings(), "subject", {}) == []  # nothing configured: log only
